"""The review's defaults, in a module of their own: `calibrate --help` shows them without
loading the database layer."""

from __future__ import annotations

# Fewer reviewed answers than this, or fewer than a quarter of it of either verdict: the
# suggestion is not to be trusted, nor applied.
DEFAULT_MIN_REVIEWED = 20
