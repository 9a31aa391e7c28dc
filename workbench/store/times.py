"""Timestamps as every *_at column stores them: UTC ISO-8601 text with milliseconds.

Stored this way they sort as they compare, so SQL can compare them as text (claims' leases).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def utc_now() -> str:
    """Now, as "2026-11-25T19:04:05.123Z"."""
    return utc_after(0.0)


def utc_after(seconds: float) -> str:
    """`seconds` from now (before now when negative), as utc_now() writes times."""
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
