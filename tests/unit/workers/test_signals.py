"""workers.signals: a task's context is bound from its message (the correlation id included) and cleared after."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from smvm import logs
from workers import signals

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_context():
    logs.clear()
    yield
    logs.clear()


def test_publish_masks_argument_reprs() -> None:
    headers = {"argsrepr": "('RUN-1', 'bob@example.com')", "kwargsrepr": "{'phone': '+44 20 7946 0958'}"}
    signals.mask_argument_reprs(headers=headers)
    assert headers["argsrepr"] == "('RUN-1', '[EMAIL]')" and headers["kwargsrepr"] == "{'phone': '[PHONE]'}"


def test_prerun_binds_ids_from_the_message_and_postrun_clears_them() -> None:
    logs.bind(run_id="stale")  # left over from a previous task in this child
    task = SimpleNamespace(name="smvm.stage.market_simulation", request=SimpleNamespace(smvm_correlation_id="CORR-9"))
    signals.bind_task_context(task_id="RUN-2.market_simulation.ab", task=task, args=("RUN-2",))
    assert dict(logs.current()) == {
        "task_id": "RUN-2.market_simulation.ab", "task_name": "smvm.stage.market_simulation",
        "correlation_id": "CORR-9", "run_id": "RUN-2", "stage": "market_simulation",
    }
    signals.clear_task_context(state="SUCCESS")
    assert dict(logs.current()) == {}


def test_prerun_of_a_non_stage_task_binds_no_run() -> None:
    task = SimpleNamespace(name="smvm.callbacks.deliver", request=SimpleNamespace())
    signals.bind_task_context(task_id="t-1", task=task, args=(42,))
    assert dict(logs.current()) == {"task_id": "t-1", "task_name": "smvm.callbacks.deliver"}


def _record(logger: str, msg: str, args) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.INFO, __file__, 1, msg, args, None)


@pytest.mark.parametrize(("logger", "msg", "args", "kept"), [
    ("celery.beat", "Scheduler: Sending due task %s (%s)", ("dispatch-due-deliveries", "smvm.maintenance.dispatch_due_deliveries"), False),
    ("celery.beat", "Scheduler: Sending due task %s (%s)", ("sync-results", "smvm.maintenance.sync_results"), True),
    ("celery.worker.strategy", "Task %(name)s[%(id)s] received", {"name": "smvm.maintenance.dispatch_due_deliveries", "id": "x"}, False),
    ("celery.worker.strategy", "Task %(name)s[%(id)s] received", {"name": "smvm.stage.idea_validation", "id": "x"}, True),
    ("celery.app.trace", "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
     {"name": "smvm.maintenance.dispatch_due_deliveries", "id": "x", "runtime": 0.01, "return_value": "0"}, False),
    ("celery.app.trace", "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
     {"name": "smvm.maintenance.dispatch_due_deliveries", "id": "x", "runtime": 0.01, "return_value": "3"}, True),
    ("celery.app.trace", "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
     {"name": "smvm.maintenance.sweep_stuck_stages", "id": "x", "runtime": 0.01,
      "return_value": "{'requeued': 0, 'expired': 0}"}, False),
    ("celery.app.trace", "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
     {"name": "smvm.maintenance.sweep_stuck_stages", "id": "x", "runtime": 0.01,
      "return_value": "{'requeued': 2, 'expired': 0}"}, True),
])
def test_frequent_beat_jobs_are_quiet_when_idle(logger, msg, args, kept, monkeypatch) -> None:
    monkeypatch.setattr(logging.getLogger(), "level", logging.INFO)
    assert signals.QuietWhenIdle().filter(_record(logger, msg, args)) is kept


def test_debug_shows_the_idle_lines_too(monkeypatch) -> None:
    monkeypatch.setattr(logging.getLogger(), "level", logging.DEBUG)
    record = _record("celery.beat", "Scheduler: Sending due task %s (%s)",
                     ("dispatch-due-deliveries", "smvm.maintenance.dispatch_due_deliveries"))
    assert signals.QuietWhenIdle().filter(record) is True
