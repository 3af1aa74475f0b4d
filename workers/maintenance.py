"""Beat jobs: the sweeper that keeps runs moving whatever Redis lost."""

from __future__ import annotations

import json
import logging
from collections import Counter

import redis
from celery import Task, shared_task

from smvm.metrics import UNACKED_KEY, queue_depths
from workers.context import get_store
from workers.pipeline import enqueue_run

log = logging.getLogger(__name__)


@shared_task(name="smvm.maintenance.sweep_stuck_stages", bind=True, ignore_result=True, soft_time_limit=100, time_limit=120)
def sweep_stuck_stages(self: Task) -> dict[str, int]:
    """Re-enqueue stages that were enqueued but never started, or whose heartbeat went stale; expire overdue runs."""
    store = get_store(self.app)
    expired = store.expire_overdue_runs()
    requeued = 0
    for run_id, stage, reason in store.find_stuck_stages(_broker_queue_depths(self.app)):
        enqueue_run(self.app, run_id, stage)
        requeued += 1
        log.info("smvm.sweeper.requeued", extra={"run_id": run_id, "stage": stage, "reason": reason})
    return {"requeued": requeued, "expired": len(expired)}


def _broker_queue_depths(app: object) -> dict[str, int] | None:
    """Messages per queue, waiting or reserved by a worker, or ``None`` when the broker cannot say (then every old
    unstarted stage is re-enqueued: a duplicate costs a fenced claim, a lost message costs a run)."""
    settings = app.smvm_settings  # type: ignore[attr-defined]
    try:
        client = redis.Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            # A message a worker has reserved but not yet started is in kombu's unacked hash, not in its list;
            # it still exists, so it counts for its queue (each entry is [message, exchange, routing key]).
            reserved = Counter(_routing_key(raw) for raw in client.hvals(UNACKED_KEY))
            return {queue: depth + reserved[queue] for queue, depth in queue_depths(client).items()}
        finally:
            client.close()
    except (redis.RedisError, ValueError):  # unreachable, or a broker that is not Redis
        log.warning("smvm.sweeper.queue_depths_unavailable", exc_info=True)
        return None


def _routing_key(raw: bytes) -> str | None:
    try:
        return json.loads(raw)[2]
    except (ValueError, TypeError, IndexError):
        return None
