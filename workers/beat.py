"""The beat schedule, in one place; tests/unit/workers/test_beat.py checks its contents."""

from __future__ import annotations

from smvm.config import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    return {
        # Redis is not the record: rebuild chains for stages that stopped moving (lost message, dead worker).
        "sweep-stuck-stages": {
            "task": "smvm.maintenance.sweep_stuck_stages",
            "schedule": settings.sweeper_interval_seconds,
            "options": {"queue": "smvm.maintenance", "expires": settings.sweeper_interval_seconds},
        },
    }
