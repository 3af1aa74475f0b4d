"""Beat's jobs: what each asks of the store and the delivery service, and what it publishes."""

from __future__ import annotations

import types

import pytest

from smvm.config import Settings
from workers import base, maintenance

pytestmark = pytest.mark.unit


@pytest.fixture
def app(celery_app_factory):
    return celery_app_factory(Settings(env="test", broker_url="memory://", delivery_poll_seconds=5.0))


class _Deliveries:
    def __init__(self, urgent: list[int], routine: list[int]) -> None:
        self.lists = (urgent, routine)
        self.calls: list[tuple] = []

    def expire_held(self) -> list[int]:
        self.calls.append(("expire_held",))
        return []

    def due(self, *, grace_seconds: float, queued: int | None) -> tuple[list[int], list[int]]:
        self.calls.append(("due", grace_seconds, queued))
        return self.lists

    def publish(self, ids: list[int], countdown: float | None = None, *, routine: bool = False) -> None:
        self.calls.append(("publish", list(ids), routine))


@pytest.mark.parametrize("depths, queued", [({"smvm.callbacks": 3}, 3), ({}, 0), (None, None)],
                         ids=["backlog", "empty queue", "broker silent"])
def test_the_due_poller_expires_held_rows_then_publishes_urgent_before_routine(app, monkeypatch, depths, queued) -> None:
    deliveries = _Deliveries([1, 2], [3])
    monkeypatch.setattr(base, "context_for", lambda app: types.SimpleNamespace(deliveries=deliveries))
    monkeypatch.setattr(maintenance, "queued_messages", lambda app: depths)
    assert app.tasks["smvm.maintenance.dispatch_due_deliveries"].run() == 3
    assert deliveries.calls == [("expire_held",), ("due", 5.0, queued), ("publish", [1, 2], False),
                                ("publish", [3], True)]


def test_the_sweeper_expires_overdue_runs_and_rebuilds_each_stuck_chain(app, monkeypatch) -> None:
    class Store:
        def expire_overdue_runs(self) -> list[str]:
            return ["RUN-OLD"]

        def find_stuck_stages(self, depths):
            assert depths == {"smvm.pipeline": 0}
            return [("RUN-1", "market_simulation", "never_started"), ("RUN-2", "posterior_update", "stale_heartbeat")]

    enqueued = []
    monkeypatch.setattr(base, "context_for", lambda app: types.SimpleNamespace(store=Store()))
    monkeypatch.setattr(maintenance, "queued_messages", lambda app: {"smvm.pipeline": 0})
    monkeypatch.setattr(maintenance, "enqueue_run", lambda app, run_id, stage: enqueued.append((run_id, stage)))
    assert app.tasks["smvm.maintenance.sweep_stuck_stages"].run() == {"requeued": 2, "expired": 1}
    assert enqueued == [("RUN-1", "market_simulation"), ("RUN-2", "posterior_update")]


def test_each_beat_job_is_registered_under_the_name_beat_schedules(app) -> None:
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled <= set(app.tasks)
    assert app.tasks["smvm.maintenance.purge_expired_runs"].run.__name__ == "purge_expired_runs"
