"""The beat schedule, in one place; tests/unit/workers/test_beat.py checks its contents."""

from __future__ import annotations

from smvm.config import Settings
from smvm.queues import MAINTENANCE_QUEUE

#: Beat jobs that run every few seconds and usually find nothing to do: their routine lines (beat sending them, the
#: worker receiving, starting and finishing them) are logged only when they did something (workers/signals.py), so
#: an idle stack's logs hold news, not 4 lines every 5 s. Their failures are always logged.
QUIET_WHEN_IDLE = frozenset({"smvm.maintenance.dispatch_due_deliveries", "smvm.maintenance.sweep_stuck_stages"})


def beat_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    return {
        # Redis is not the record: rebuild chains for stages that stopped moving (lost message, dead worker).
        "sweep-stuck-stages": {
            "task": "smvm.maintenance.sweep_stuck_stages",
            "schedule": settings.sweeper_interval_seconds,
            "options": {"queue": MAINTENANCE_QUEUE, "expires": settings.sweeper_interval_seconds},
        },
        # Retries normally fire on their own countdown; this finds deliveries whose message Redis lost or whose
        # worker died mid-request, so the outbox row in PostgreSQL, not the broker, decides what gets sent.
        "dispatch-due-deliveries": {
            "task": "smvm.maintenance.dispatch_due_deliveries",
            "schedule": settings.delivery_poll_seconds,
            "options": {"queue": MAINTENANCE_QUEUE, "expires": settings.delivery_poll_seconds},
        },
        # A cheap reconcile tick, not a 02:00 cron: the unique (job, logical_date) row makes every extra tick and
        # every extra beat process a no-op, and the first tick after downtime catches up (shared/reference, 2).
        "sync-results": {
            "task": "smvm.maintenance.sync_results",
            "schedule": settings.results_sync_tick_seconds,
            "options": {"queue": MAINTENANCE_QUEUE, "expires": settings.results_sync_tick_seconds},
        },
        # Same once-per-day guard; hourly is plenty for a purge measured in days.
        "purge-expired-runs": {
            "task": "smvm.maintenance.purge_expired_runs",
            "schedule": 3600.0,
            "options": {"queue": MAINTENANCE_QUEUE, "expires": 3600.0},
        },
    }
