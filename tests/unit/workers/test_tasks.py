"""Stage tasks end in a terminal state whatever happens: the chain goes on, stops quietly, or the task is revoked."""

from __future__ import annotations

import types

import pytest

from smvm.runs.execution import StageReleasedError
from workers import tasks

pytestmark = pytest.mark.unit


class _Task:
    """What run_stage touches of a Celery task: its app, its request (hostname, chain) and send_event."""

    def __init__(self) -> None:
        self.app = object()
        self.context = types.SimpleNamespace(store=None)
        self.request = types.SimpleNamespace(hostname="pipeline@test", chain=[{"task": "next"}])
        self.events: list[tuple[str, dict]] = []

    def send_event(self, kind: str, **fields) -> None:
        self.events.append((kind, fields))


class _Store:
    def __init__(self, status: str) -> None:
        self.status = status

    def resolve(self, run_id: str) -> dict:
        return {"run_id": run_id, "status": self.status}


@pytest.fixture
def task(monkeypatch) -> _Task:
    monkeypatch.setattr(tasks, "enqueue_run", lambda *args, **kwargs: None)
    return _Task()


def _with(task: _Task, monkeypatch, *, status: str, outcome) -> None:
    task.context.store = _Store(status)

    def execute(store, run_id, stage, worker=None):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(tasks, "execute_stage", execute)


def test_a_stage_that_moves_on_keeps_the_chain(monkeypatch, task) -> None:
    _with(task, monkeypatch, status="RUNNING", outcome="decision_analysis")
    assert tasks.run_stage(task, "RUN-1", "market_simulation") is None
    assert task.request.chain == [{"task": "next"}] and task.events == []


def test_a_cancelled_run_revokes_the_task_and_stops_the_chain(monkeypatch, task) -> None:
    _with(task, monkeypatch, status="CANCELLED", outcome=None)
    with pytest.raises(tasks.Ignore):
        tasks.run_stage(task, "RUN-1", "market_simulation")
    assert [kind for kind, _ in task.events] == ["task-revoked"], "Flower shows REVOKED, not STARTED for ever"
    assert task.request.chain is None


def test_a_duplicate_message_succeeds_quietly_without_its_chain(monkeypatch, task) -> None:
    _with(task, monkeypatch, status="RUNNING", outcome=None)
    assert tasks.run_stage(task, "RUN-1", "market_simulation") == "skipped"
    assert task.request.chain is None and task.events == []


def test_a_transient_failure_is_republished_and_the_task_still_ends(monkeypatch, task) -> None:
    republished = []
    monkeypatch.setattr(tasks, "enqueue_run", lambda app, run_id, stage, countdown: republished.append((stage, countdown)))
    _with(task, monkeypatch, status="RUNNING", outcome=StageReleasedError("db restarting"))
    assert tasks.run_stage(task, "RUN-1", "market_simulation") == "released"
    assert republished == [("market_simulation", tasks.TRANSIENT_RETRY_DELAY)] and task.request.chain is None
