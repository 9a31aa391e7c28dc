"""Timestamps as every *_at column stores them: UTC ISO-8601 text with milliseconds."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    """Now, as "2026-11-25T19:04:05.123Z"."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
