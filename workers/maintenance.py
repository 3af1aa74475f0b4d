"""Beat jobs: the sweeper that keeps runs moving whatever Redis lost."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from workers.broker import queued_messages
from workers.context import get_store
from workers.pipeline import enqueue_run

log = logging.getLogger(__name__)


@shared_task(name="smvm.maintenance.sweep_stuck_stages", bind=True, ignore_result=True, soft_time_limit=100, time_limit=120)
def sweep_stuck_stages(self: Task) -> dict[str, int]:
    """Re-enqueue stages that were enqueued but never started, or whose heartbeat went stale; expire overdue runs."""
    store = get_store(self.app)
    expired = store.expire_overdue_runs()
    requeued = 0
    for run_id, stage, reason in store.find_stuck_stages(queued_messages(self.app)):
        enqueue_run(self.app, run_id, stage)
        requeued += 1
        log.info("smvm.sweeper.requeued", extra={"run_id": run_id, "stage": stage, "reason": reason})
    return {"requeued": requeued, "expired": len(expired)}
