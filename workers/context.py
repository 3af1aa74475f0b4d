"""What a worker process works with, built once per process after the fork, and how its parts are joined.

How a run's events reach TractionBuild, read from here down:

1. A stage task (``workers.tasks``) calls ``smvm.runs.execution.execute_stage`` with the :class:`RunStore` built
   below. Every state change the store makes records an event in the same PostgreSQL transaction.
2. Inside that transaction the store calls its event hooks. The one hook is the callbacks outbox
   (``smvm.callbacks.outbox.Outbox.record``): it writes the update and alert delivery rows and returns a function
   that, after commit, hands their ids to the publisher.
3. The publisher (``workers.publishing.CeleryPublisher``) sends one ``deliver_webhook`` message per id to the
   ``smvm.callbacks`` queue.
4. A callbacks worker runs ``workers.callbacks.deliver_webhook``, which asks the :class:`DeliveryService` below to
   attempt the row once: sign, POST, record the outcome, and publish its retry through the same publisher.

The API process joins the same parts the same way (``api.create_app``).
"""

from __future__ import annotations

import dataclasses
import functools

import redis
from celery import Celery

from smvm.callbacks.delivery import DeliveryService
from smvm.callbacks.outbox import Outbox
from smvm.config import Settings
from smvm.runs.store import RunStore
from smvm.store.db import Database
from smvm.webhooks.breaker import CircuitBreaker
from workers.publishing import CeleryPublisher


@dataclasses.dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    store: RunStore
    deliveries: DeliveryService
    publisher: CeleryPublisher


def build_context(app: Celery, settings: Settings) -> WorkerContext:
    settings.require("database_url")
    db = Database(settings.database_url, minconn=1, maxconn=4, connect_timeout=settings.db_connect_timeout)  # type: ignore[arg-type]
    publisher = CeleryPublisher(app)
    store = RunStore(db, settings, event_hooks=[Outbox(settings, publisher).record])
    return WorkerContext(settings, store, DeliveryService(db, settings, breaker_for(settings), publisher), publisher)


def breaker_for(settings: Settings) -> CircuitBreaker | None:
    """The per-host breaker lives in Redis so every callbacks worker sees the same state; none without Redis."""
    if not settings.redis_url:
        return None
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    return CircuitBreaker(client, threshold=settings.breaker_failure_threshold, cooldown=settings.breaker_cooldown_seconds)


@functools.cache
def _context_for(app_id: int, app: Celery) -> WorkerContext:
    # Lazily, per app: a prefork child must open its own connections after the fork, never inherit the parent's.
    return build_context(app, app.smvm_settings)  # type: ignore[attr-defined]


def context_for(app: Celery) -> WorkerContext:
    return _context_for(id(app), app)
