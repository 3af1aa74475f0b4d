"""The callbacks worker's one task: attempt a delivery from the outbox (``smvm.callbacks.delivery``)."""

from __future__ import annotations

from celery import shared_task

from workers.base import SmvmTask
from workers.publishing import DELIVER_WEBHOOK


@shared_task(name=DELIVER_WEBHOOK, bind=True, soft_time_limit=60, time_limit=90)
def deliver_webhook(self: SmvmTask, delivery_id: int) -> str:
    """Attempt one delivery if it is due; schedule its retry on the fast path (the row holds the real schedule)."""
    deliveries = self.context.deliveries
    result = deliveries.attempt(delivery_id)
    deliveries.publish_retry(result)
    return result.outcome
