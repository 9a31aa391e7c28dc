"""A run's defaults, in a module of their own: `run --help` shows them without loading the
engine."""

from __future__ import annotations

DEFAULT_CONCURRENCY = 4  # LM Studio serves 4 predictions in parallel by default
