"""The Celery app's routing: each queue has its own exchange and routing key, and callback task ids carry the run."""

from __future__ import annotations

import pytest

from smvm.config import Settings
from smvm.queues import QUEUES
from workers.publishing import callback_task_id

pytestmark = pytest.mark.unit


def test_each_queue_is_declared_with_its_own_exchange_and_routing_key(celery_app_factory) -> None:
    app = celery_app_factory(Settings(env="test", broker_url="memory://", redis_url=None))
    declared = app.amqp.queues
    assert set(declared) == set(QUEUES)
    for name, queue in declared.items():
        assert (queue.exchange.name, queue.exchange.type, queue.routing_key) == (name, "direct", name)
    # What a worker's banner prints: one line per queue, each naming itself, never smvm.pipeline's exchange.
    for line in app.amqp.queues.format().splitlines():
        name = line.split()[1]
        assert f"exchange={name}(direct) key={name}" in line


def test_callback_task_ids_start_with_the_run_id() -> None:
    task_id = callback_task_id("RUN-20261204-101010-abcdef01", 42)
    assert task_id.startswith("RUN-20261204-101010-abcdef01.callback.42.")
    assert callback_task_id("RUN-X", 42) != callback_task_id("RUN-X", 42), "each message its own id"
    assert callback_task_id(None, 7).startswith("callback.7.")
