"""Scheduled maintenance windows ("SUN 02:00-04:00", UTC) and the "now" they are checked against."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from smvm.clock import clock_now, iso_z
from smvm.config import Settings
from smvm.errors import ConfigurationError

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_SPEC = re.compile(r"^(?P<day>[A-Z]{3}|DAILY)\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


@dataclasses.dataclass(frozen=True)
class Window:
    """A weekly (or daily) UTC window; ``end`` before ``start`` crosses midnight into the next day."""

    spec: str
    days: tuple[int, ...]
    start: dt.time
    end: dt.time

    def occurrences(self, around: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """Every occurrence from the day before ``around`` to two weeks after, in order."""
        found = []
        base = around.astimezone(dt.UTC).date()
        for offset in range(-1, 15):
            day = base + dt.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            start = dt.datetime.combine(day, self.start, tzinfo=dt.UTC)
            end = dt.datetime.combine(day, self.end, tzinfo=dt.UTC)
            if end <= start:
                end += dt.timedelta(days=1)
            found.append((start, end))
        return found


def parse_window(spec: str) -> Window:
    """``"SUN 02:00-04:00"`` or ``"DAILY 03:00-03:15"``.

    :raises ConfigurationError: naming the bad entry of ``SMVM_MAINTENANCE_WINDOWS``.
    """
    match = _SPEC.match(spec.strip().upper())
    try:
        if match is None:
            raise ValueError("expected 'DAY HH:MM-HH:MM'")
        day = match["day"]
        days = tuple(range(7)) if day == "DAILY" else (DAYS.index(day),)
        start, end = dt.time.fromisoformat(match["start"]), dt.time.fromisoformat(match["end"])
    except ValueError as exc:
        raise ConfigurationError(f"SMVM_MAINTENANCE_WINDOWS: bad window {spec!r} ({exc})") from None
    if start == end:
        raise ConfigurationError(f"SMVM_MAINTENANCE_WINDOWS: window {spec!r} is empty")
    return Window(spec.strip(), days, start, end)


def windows(settings: Settings) -> list[Window]:
    return [parse_window(spec) for spec in settings.maintenance_windows]


def now(settings: Settings) -> dt.datetime:
    """Now, or the test clock's (``SMVM_CLOCK_FILE``), so a test can stand inside a window."""
    return clock_now(settings)


def active(settings: Settings, at: dt.datetime | None = None) -> tuple[Window, dt.datetime] | None:
    """The window in progress at ``at`` and when it ends (the latest end if several overlap), or ``None``."""
    at = at or now(settings)
    current = [(window, end) for window in windows(settings) for start, end in window.occurrences(at) if start <= at < end]
    return max(current, key=lambda item: item[1]) if current else None


def upcoming(settings: Settings, at: dt.datetime | None = None, limit: int = 5) -> list[dict[str, str | bool]]:
    """The next windows (including one in progress), soonest first, for the public listing."""
    at = at or now(settings)
    items = sorted(
        (start, end, window.spec) for window in windows(settings) for start, end in window.occurrences(at) if end > at
    )
    return [
        {"window": spec, "starts_at": iso_z(start), "ends_at": iso_z(end), "in_progress": start <= at}
        for start, end, spec in items[:limit]
    ]
