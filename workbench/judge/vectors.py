"""Meaning from embeddings: the cosine of two texts' vectors, and the error when no model loads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:  # numpy loads when a cosine is taken: a run's first request does not wait
    import numpy


class MeaningUnavailable(WorkbenchError):
    """The meaning backend cannot be loaded (package or model file missing); seen by `run`."""


def cosines(a: numpy.ndarray, b: numpy.ndarray) -> list[float]:
    """The cosine similarity of each row of `a` with the same row of `b`; 0.0 where either is
    all zeros (a blank text embeds to zeros: its similarity is 0, not NaN)."""
    import numpy

    norms = numpy.linalg.norm(a, axis=1) * numpy.linalg.norm(b, axis=1)
    dots = numpy.einsum("ij,ij->i", a, b)
    return [
        float(d / n) if n and numpy.isfinite(n) else 0.0 for d, n in zip(dots, norms, strict=True)
    ]
