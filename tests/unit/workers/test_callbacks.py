"""The callbacks worker's task: one attempt through the process's delivery service, its retry on the fast path."""

from __future__ import annotations

import types

import pytest

from smvm.callbacks.delivery import AttemptResult
from smvm.config import Settings
from workers import base, callbacks

pytestmark = pytest.mark.unit


class _Deliveries:
    def __init__(self, result: AttemptResult) -> None:
        self.result = result
        self.attempted: list[int] = []
        self.retried: list[AttemptResult] = []

    def attempt(self, delivery_id: int) -> AttemptResult:
        self.attempted.append(delivery_id)
        return self.result

    def publish_retry(self, result: AttemptResult) -> None:
        self.retried.append(result)


@pytest.fixture
def app(celery_app_factory):
    return celery_app_factory(Settings(env="test", broker_url="memory://"))


@pytest.mark.parametrize("result", [
    AttemptResult(7, "delivered", "DELIVERED"),
    AttemptResult(7, "retry scheduled", "PENDING", retry_in=2.0, run_id="RUN-1"),
], ids=["delivered", "retry"])
def test_deliver_webhook_attempts_once_and_hands_the_outcome_to_the_retry_path(app, monkeypatch, result) -> None:
    deliveries = _Deliveries(result)
    monkeypatch.setattr(base, "context_for", lambda app: types.SimpleNamespace(deliveries=deliveries))
    assert app.tasks[callbacks.DELIVER_WEBHOOK].run(7) == result.outcome
    assert deliveries.attempted == [7]
    # publish_retry decides (a message only when the row asks for a retry): the task hands it every result.
    assert deliveries.retried == [result]


def test_deliver_webhook_is_routed_to_the_callbacks_queue_with_its_own_time_limits(app) -> None:
    task = app.tasks[callbacks.DELIVER_WEBHOOK]
    assert app.amqp.router.route({}, task.name)["queue"].name == "smvm.callbacks"
    assert (task.soft_time_limit, task.time_limit) == (60, 90)
    assert isinstance(task, base.SmvmTask)
