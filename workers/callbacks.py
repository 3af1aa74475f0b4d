"""Callback delivery tasks and the beat jobs that feed them: due-poller, T0+30 results sync, retention."""

from __future__ import annotations

import functools
import logging
import uuid

import redis
from celery import Celery, Task, shared_task

from smvm.queues import CALLBACKS_QUEUE
from smvm.webhooks import services as webhooks
from smvm.webhooks.breaker import CircuitBreaker
from smvm.webhooks.sync import purge_expired_runs, schedule_results_sync
from workers.app import DEFERRED_PRIORITY
from workers.broker import queued_messages
from workers.context import get_store

log = logging.getLogger(__name__)


@functools.cache
def _service_for(app_id: int, app: Celery) -> webhooks.DeliveryService:
    settings = app.smvm_settings  # type: ignore[attr-defined]
    breaker = None
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        breaker = CircuitBreaker(
            client, threshold=settings.breaker_failure_threshold, cooldown=settings.breaker_cooldown_seconds
        )
    return webhooks.DeliveryService(get_store(app).db, settings, breaker)


def get_delivery_service(app: Celery) -> webhooks.DeliveryService:
    return _service_for(id(app), app)


def callback_task_id(run_id: str | None, delivery_id: int) -> str:
    """Task ids start with the run id, like the stages' (workers.pipeline.stage_task_id), so searching a run id in
    Flower finds its callbacks too; a delivery with no run (none today) starts with ``callback``."""
    suffix = f"callback.{delivery_id}.{uuid.uuid4().hex[:8]}"
    return f"{run_id}.{suffix}" if run_id else suffix


def publish_deliveries(
    ids: list[int], countdown: float | None = None, *, routine: bool = False, run_ids: dict[int, str | None] | None = None
) -> None:
    """Send one ``deliver_webhook`` message per id; the row's claim makes duplicate messages harmless.

    Routine updates wait behind decisions, alerts and retries (``DEFERRED_PRIORITY``).
    """
    priority = DEFERRED_PRIORITY if routine else 0
    run_ids = run_ids or {}
    for delivery_id in ids:
        deliver_webhook.apply_async((delivery_id,), countdown=countdown or None, priority=priority,
                                    task_id=callback_task_id(run_ids.get(delivery_id), delivery_id))


# Every process that loads the tasks (workers, and the API through create_celery) publishes right after commit.
webhooks.set_publisher(publish_deliveries)


@shared_task(
    name="smvm.callbacks.deliver_webhook", bind=True, acks_late=True, ignore_result=True,
    soft_time_limit=60, time_limit=90,
)
def deliver_webhook(self: Task, delivery_id: int) -> str:
    """Attempt one delivery if it is due; schedule its retry on the fast path (the row holds the real schedule)."""
    result = get_delivery_service(self.app).attempt(delivery_id)
    if result.retry_in is not None:
        webhooks.publish([delivery_id], countdown=result.retry_in, run_ids={delivery_id: result.run_id})
    return result.outcome


@shared_task(
    name="smvm.maintenance.dispatch_due_deliveries", bind=True, ignore_result=True,
    soft_time_limit=50, time_limit=60,
)
def dispatch_due_deliveries(self: Task) -> int:
    """Re-publish deliveries whose time has come but whose message was lost (flushed Redis, killed worker), and
    dead-letter those held longer than ``SMVM_WEBHOOK_MAX_HOLD_HOURS``."""
    settings = self.app.smvm_settings  # type: ignore[attr-defined]
    get_delivery_service(self.app).expire_held()  # logs what it dead-letters; nothing when nothing is that old
    depths = queued_messages(self.app)
    # Give the countdown fast path a moment first, so healthy retries are not published twice.
    service = get_delivery_service(self.app)
    urgent, routine = service.due(
        grace_seconds=max(settings.delivery_poll_seconds, 1.0),
        queued=None if depths is None else depths.get(CALLBACKS_QUEUE, 0),
    )
    service.publish(urgent)
    service.publish(routine, routine=True)
    if urgent or routine:
        log.info("smvm.webhooks.due_published", extra={"count": len(urgent) + len(routine)})
    return len(urgent) + len(routine)


@shared_task(
    name="smvm.maintenance.sync_results", bind=True, ignore_result=True, soft_time_limit=280, time_limit=300
)
def sync_results(self: Task) -> dict[str, object]:
    """The T0+30 sync tick: queue due runs once per logical date; the outbox sends and stores reference_id."""
    settings = self.app.smvm_settings  # type: ignore[attr-defined]
    result = schedule_results_sync(get_store(self.app).db, settings)
    get_delivery_service(self.app).publish(result["deliveries"])
    return result


@shared_task(
    name="smvm.maintenance.purge_expired_runs", bind=True, ignore_result=True, soft_time_limit=570, time_limit=600
)
def purge_expired(self: Task) -> int:
    """Retention: drop runs and their files past ``retention_days``, once per day."""
    settings = self.app.smvm_settings  # type: ignore[attr-defined]
    return len(purge_expired_runs(get_store(self.app).db, settings)["purged"])
