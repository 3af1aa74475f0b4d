"""Time in one place: now in UTC (or the test clock's), ISO 8601 text with a ``Z``, and daily jobs' logical dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from smvm.config import Settings


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_z(value: dt.datetime | None, timespec: str = "auto") -> str | None:
    """``2026-12-04T10:00:00Z``: the one text form of an instant in every answer, artifact, callback and log line."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    """Read ISO 8601 text, ``Z`` or offset; a naive value is taken as UTC."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def clock_now(settings: Settings) -> dt.datetime:
    """Now, or the test clock's now when ``settings.clock_file`` is set (simulated days for beat tests)."""
    if settings.clock_file is not None:
        return parse_iso(Path(settings.clock_file).read_text())
    return utcnow()


def logical_date(now: dt.datetime, hour_utc: int) -> dt.date:
    """The day whose job is due: today once its hour has passed, else yesterday."""
    now = now.astimezone(dt.UTC)
    return now.date() if now.hour >= hour_utc else now.date() - dt.timedelta(days=1)
