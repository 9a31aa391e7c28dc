"""BERT's numerics in numpy, in place on float32 arrays: LayerNorm and the exact (erf) GELU."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy
import numpy.typing as npt

F32 = npt.NDArray[numpy.float32]


def layer_norm(x: F32, weight: F32, bias: F32, eps: float) -> None:
    """LayerNorm over the last axis of a 2-D x, in place."""
    x -= x.mean(axis=1, keepdims=True)
    variance = numpy.einsum("ij,ij->i", x, x)[:, None]
    variance /= x.shape[1]
    variance += numpy.float32(eps)
    x *= 1 / numpy.sqrt(variance)
    x *= weight
    x += bias


# erf(z) ≈ z·P(z²)/Q(z²) for |z| ≤ 4, ±1 beyond (to float32): the float32 approximation of erf in
# Eigen and XLA, coefficients of z, z³ … z¹³ over 1, z² … z⁸. _GELU_P and _GELU_Q are the same
# polynomials in x² = 2z², with GELU's ½ · 1/√2 folded into P.
_ERF_P = (
    -1.60960333262415e-02,
    -2.95459980854025e-03,
    -7.34990630326855e-04,
    -5.69250639462346e-05,
    -2.10102402082508e-06,
    2.77068142495902e-08,
    -2.72614225801306e-10,
)
_ERF_Q = (
    -1.42647390514189e-02,
    -7.37332916720468e-03,
    -1.68282697438203e-03,
    -2.13374055278905e-04,
    -1.45660718464996e-05,
)
_GELU_P = [numpy.float32(c / 2**k / 2 / math.sqrt(2)) for k, c in enumerate(_ERF_P)][::-1]
_GELU_Q = [numpy.float32(c / 2**k) for k, c in enumerate(_ERF_Q)][::-1]
_GELU_CLIP = numpy.float32(4 * math.sqrt(2))


def gelu(x: F32, a: F32, b: F32, c: F32) -> None:
    """GELU with erf, x · (1 + erf(x / √2)) / 2, in place; a, b and c are scratch of x's shape."""
    numpy.clip(x, -_GELU_CLIP, _GELU_CLIP, out=a)
    numpy.multiply(a, a, out=b)
    _horner(_GELU_P, b, out=c)
    a *= c  # ½ · erf(x / √2)
    _horner(_GELU_Q, b, out=c)
    a /= c
    a += numpy.float32(0.5)
    x *= a


def _horner(coefficients: Sequence[numpy.float32], t: F32, out: F32) -> None:
    """The polynomial with these coefficients (highest power first) at t, into out."""
    numpy.multiply(t, coefficients[0], out=out)
    out += coefficients[1]
    for coefficient in coefficients[2:]:
        out *= t
        out += coefficient
