"""workers.base.SmvmTask: every task carries the delivery guarantees, and every publish the caller's correlation id."""

from __future__ import annotations

from typing import Any

import pytest
from celery.signals import before_task_publish

from smvm import logs
from smvm.config import Settings
from workers.base import CORRELATION_HEADER, SmvmTask
from workers.publishing import CeleryPublisher, enqueue_run

pytestmark = pytest.mark.unit


@pytest.fixture
def app(celery_app_factory) -> Any:
    return celery_app_factory(Settings(env="test", broker_url="memory://", redis_url=None))


@pytest.fixture
def published() -> Any:
    """The headers of every message published during the test, by task name."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
        seen.append((sender or "", dict(headers or {})))

    before_task_publish.connect(record, weak=False, dispatch_uid="test.base.record")
    logs.clear()
    yield seen
    logs.clear()
    before_task_publish.disconnect(dispatch_uid="test.base.record")


def test_every_task_acks_late_is_redelivered_when_its_worker_dies_and_keeps_no_result(app) -> None:
    ours = [task for name, task in app.tasks.items() if name.startswith("smvm.")]
    assert len(ours) >= 10
    for task in ours:
        assert isinstance(task, SmvmTask), task.name
        assert (task.acks_late, task.reject_on_worker_lost, task.ignore_result, task.track_started) == (
            True, True, True, True), task.name


def test_a_run_chain_and_a_callback_carry_the_bound_correlation_id(app, published) -> None:
    # Chain steps that workers publish come through the same apply_async; tests/integration/test_privacy.py follows
    # a POSTed correlation id into every stage's log lines.
    logs.bind(correlation_id="CORR-42")
    enqueue_run(app, "RUN-1")
    CeleryPublisher(app)([7], run_ids={7: "RUN-1"})
    assert [name for name, _ in published] == ["smvm.stage.idea_validation", "smvm.callbacks.deliver_webhook"]
    for _, headers in published:
        assert headers[CORRELATION_HEADER] == headers["correlation_id"] == "CORR-42"


def test_a_header_the_caller_set_wins_and_nothing_is_added_without_a_bound_id(app, published) -> None:
    logs.bind(correlation_id="CORR-bound")
    app.signature("smvm.stage.data_ingestion", args=("RUN-1",)).apply_async(headers={CORRELATION_HEADER: "CORR-given"})
    logs.clear()
    app.signature("smvm.stage.data_ingestion", args=("RUN-2",)).apply_async()
    assert published[0][1][CORRELATION_HEADER] == "CORR-given"
    assert CORRELATION_HEADER not in published[1][1] and "correlation_id" not in published[1][1]
