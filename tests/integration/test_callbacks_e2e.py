"""A run through the real pipeline (gunicorn, Celery workers per queue, beat) with a callback_url pointing at a
real HTTP receiver: every stage step arrives as a signed ``/validation/update`` in order, DECISION_READY with the
decision, then the final completed update; each webhook-id exactly once; every signature verified with the
independent ``standardwebhooks`` package (the receiver does that on every request).
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from smvm.callbacks.payloads import STEP_NAMES
from smvm.pipeline.stages import STAGE_NAMES
from smvm.store.db import Database
from tests.bad_inputs import VALID
from tests.integration import harness, servers
from tests.integration.receiver import Received, Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec_" + "ZTJlLWNhbGxiYWNrcy10ZXN0LW9ubHktc2VjcmV0LTAxMjM0NQ=="


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET, harness.free_port()).start()
    yield server
    server.stop()


def _query(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.transaction() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


@dataclasses.dataclass
class E2ERun:
    run_id: str
    received: list[Received]
    deliveries: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def updates(self) -> list[dict[str, Any]]:
        """The ``/validation/update`` payloads in arrival order."""
        return [r.json() for r in self.received if r.path == "/validation/update"]

    @property
    def expected_kinds(self) -> list[str]:
        """One update per event (retries are silent), in the order the events happened."""
        return [e["kind"] for e in self.events if e["kind"] != "STAGE_RETRY"]


@pytest.fixture(scope="module")
def e2e_run(pg_cluster, receiver, tmp_path_factory: pytest.TempPathFactory) -> E2ERun:
    """One run through the whole stack with a callback_url at the receiver, until every delivery is DELIVERED."""
    tmp_path = tmp_path_factory.mktemp("cb-e2e")
    redis_server = servers.RedisServer(tmp_path).start()
    try:
        settings = servers.fault_settings(
            pg_cluster, redis_server, tmp_path, webhook_secret=SECRET, webhook_timeout_seconds=5.0,
            # The sweeper is not under test here; keep it out of the way of a healthy run.
            stage_stale_after_seconds=30.0, stage_unstarted_after_seconds=30.0,
        )
        db = Database(settings.database_url, minconn=1, maxconn=2)  # type: ignore[arg-type]
        with servers.running_stack(settings, tmp_path / "logs") as stack:
            body = copy.deepcopy(VALID)
            body["project_id"] = "PROJ-E2E-CB"
            body["run_id"] = f"RUN-E2E-{uuid.uuid4().hex[:12]}"
            body["metadata"]["callback_url"] = receiver.url
            response = stack.post_run(body)
            assert response.status_code == 202, response.text
            run_id = response.json()["run_id"]
            stack.wait_for_status(run_id, timeout=120)

            def all_delivered() -> bool:
                rows = _query(db, "SELECT status FROM deliveries WHERE run_id = %s", run_id)
                return bool(rows) and all(row["status"] == "DELIVERED" for row in rows)

            harness.wait_until(all_delivered, timeout=60, interval=0.2, what=f"every delivery DELIVERED\n{stack.logs()}")
            deliveries = _query(db, "SELECT webhook_id, kind, attempts FROM deliveries WHERE run_id = %s", run_id)
            events = _query(db, "SELECT id, kind, stage FROM events WHERE run_id = %s ORDER BY id", run_id)
        db.close()
    finally:
        redis_server.cleanup()
    return E2ERun(run_id, receiver.received(), deliveries, events)


def test_full_run_sends_every_update_signed_once(e2e_run: E2ERun) -> None:
    run_id, received, deliveries = e2e_run.run_id, e2e_run.received, e2e_run.deliveries
    # Every request carried a valid Standard Webhooks signature, and each webhook-id was delivered exactly once.
    assert received and all(r.verified for r in received), [r.error for r in received if not r.verified]
    assert all(r.status == 200 for r in received)
    ids = [r.webhook_id for r in received]
    assert len(ids) == len(set(ids)), "a webhook-id was delivered twice"
    assert sorted(ids) == sorted(row["webhook_id"] for row in deliveries)
    assert all(row["attempts"] == 1 for row in deliveries)

    updates = e2e_run.updates
    assert all(u["run_id"] == run_id and u["validation_id"] for u in updates)
    # Ordered by the sequence each payload carries, the updates are exactly the run's events, and that order agrees
    # with their timestamps (events of one transaction share one).
    by_time = sorted(updates, key=lambda u: u["sequence"])
    assert [u["sequence"] for u in by_time] == [e["id"] for e in e2e_run.events if e["kind"] != "STAGE_RETRY"]
    assert [u["event"] for u in by_time] == e2e_run.expected_kinds
    assert [u["timestamp"] for u in by_time] == sorted(u["timestamp"] for u in by_time)
    steps = [(u["event"], u["current_stage"]) for u in by_time if u["event"] in ("STAGE_STARTED", "STAGE_COMPLETED")]
    assert steps == [(kind, stage) for stage in STAGE_NAMES for kind in ("STAGE_STARTED", "STAGE_COMPLETED")]
    for update in by_time:
        if update["current_stage"]:
            assert update["step_name"] == STEP_NAMES[update["current_stage"]]
        assert 0.0 <= update["progress"] <= 1.0
    progress = [u["progress"] for u in by_time]
    assert progress == sorted(progress), "progress went backwards"

    [decision] = [u for u in updates if u["event"] == "DECISION_READY"]
    assert decision["status"] == "DECISION_READY"
    assert decision["decision"]["recommendation"] in {"GO", "PIVOT", "KILL"}
    assert 0.0 <= decision["decision"]["confidence"] <= 1.0
    assert isinstance(decision["decision"]["critical_success_factors"], list)
    assert decision["decision"]["critical_success_factors"]
    assert "decision_analysis" in decision["stage_results"]

    final = by_time[-1]
    assert final["event"] == "RUN_COMPLETED" and final["run_status"] == "COMPLETED"
    assert final["status"] == "completed" and final["progress"] == 1.0
    assert set(final["stage_results"]) == set(STAGE_NAMES)

    # Alerts, if the run raised any, go to /validation/alert, signed the same way.
    alerts = [r for r in received if r.path == "/validation/alert"]
    assert len(alerts) == sum(1 for row in deliveries if row["kind"] == "alert")


def test_updates_arrive_in_event_order(e2e_run: E2ERun) -> None:
    # DECISION_READY is published ahead of queued progress (smvm.callbacks.outbox.URGENT_EVENTS), so it may
    # overtake the stage update committed with it; every other update keeps its place.
    arrived = [(u["event"], u["current_stage"]) for u in e2e_run.updates if u["event"] != "DECISION_READY"]
    expected = [kind for kind in e2e_run.expected_kinds if kind != "DECISION_READY"]
    assert [kind for kind, _ in arrived] == expected, f"updates arrived out of order: {arrived}"
