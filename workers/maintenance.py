"""Beat's jobs, on the maintenance queue: keep runs moving and callbacks flowing whatever Redis lost, the T0+30
results sync, and retention. Each is safe to run twice or on two beats at once."""

from __future__ import annotations

import logging

from celery import shared_task

from smvm.callbacks.sync import schedule_results_sync
from smvm.privacy.retention import purge_expired_runs as purge_expired
from smvm.queues import CALLBACKS_QUEUE
from workers.base import SmvmTask
from workers.broker import queued_messages
from workers.publishing import enqueue_run

log = logging.getLogger(__name__)


@shared_task(name="smvm.maintenance.sweep_stuck_stages", bind=True, soft_time_limit=100, time_limit=120)
def sweep_stuck_stages(self: SmvmTask) -> dict[str, int]:
    """Re-enqueue stages that were enqueued but never started, or whose heartbeat went stale; expire overdue runs."""
    store = self.context.store
    expired = store.expire_overdue_runs()
    requeued = 0
    for run_id, stage, reason in store.find_stuck_stages(queued_messages(self.app)):
        enqueue_run(self.app, run_id, stage)
        requeued += 1
        log.info("smvm.sweeper.requeued", extra={"run_id": run_id, "stage": stage, "reason": reason})
    return {"requeued": requeued, "expired": len(expired)}


@shared_task(name="smvm.maintenance.dispatch_due_deliveries", bind=True, soft_time_limit=50, time_limit=60)
def dispatch_due_deliveries(self: SmvmTask) -> int:
    """Re-publish deliveries whose time has come but whose message was lost (flushed Redis, killed worker), and
    dead-letter those held longer than ``SMVM_WEBHOOK_MAX_HOLD_HOURS``."""
    deliveries = self.context.deliveries
    deliveries.expire_held()  # logs what it dead-letters; nothing when nothing is that old
    depths = queued_messages(self.app)
    # Give the countdown fast path a moment first, so healthy retries are not published twice.
    urgent, routine = deliveries.due(
        grace_seconds=max(self.settings.delivery_poll_seconds, 1.0),
        queued=None if depths is None else depths.get(CALLBACKS_QUEUE, 0),
    )
    deliveries.publish(urgent)
    deliveries.publish(routine, routine=True)
    if urgent or routine:
        log.info("smvm.webhooks.due_published", extra={"count": len(urgent) + len(routine)})
    return len(urgent) + len(routine)


@shared_task(name="smvm.maintenance.sync_results", bind=True, soft_time_limit=280, time_limit=300)
def sync_results(self: SmvmTask) -> dict[str, object]:
    """The T0+30 sync tick: queue due runs once per logical date; the outbox sends and stores reference_id."""
    result = schedule_results_sync(self.context.store.db, self.settings)
    self.context.deliveries.publish(result["deliveries"])
    return result


@shared_task(name="smvm.maintenance.purge_expired_runs", bind=True, soft_time_limit=570, time_limit=600)
def purge_expired_runs(self: SmvmTask) -> int:
    """Retention: drop runs and their files past ``retention_days``, once per day."""
    return len(purge_expired(self.context.store.db, self.settings)["purged"])
