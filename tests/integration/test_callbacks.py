"""Signed callbacks through real workers and beat: retries at the scheduled delays, dead letters, breaker, replay."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from smvm.callbacks.delivery import DeliveryService
from smvm.config import Settings
from smvm.intake.validation import parse_request
from smvm.metrics import StateCollector
from smvm.runs.store import RunStore
from smvm.store.db import Database
from tests.integration import harness
from tests.integration.conftest import settings_environ
from tests.integration.receiver import Receiver, ok

pytestmark = pytest.mark.integration

SECRET = "whsec_" + "dGVzdC1vbmx5LXNlY3JldC1mb3ItY2FsbGJhY2tzLTAxMjM="
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "examples" / "idea.json").read_text())


@pytest.fixture(scope="module")
def callback_settings(tmp_path_factory: pytest.TempPathFactory, module_redis_url: str) -> Iterator[Settings]:
    """A database of its own and fast breaker/poller timings, so delays are the only thing measured."""
    base = os.environ.get("SMVM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with harness.throwaway_database(base, "smvm_cb") as url:
        yield _callback_settings(url, tmp_path_factory, module_redis_url)


def _callback_settings(url: str, tmp_path_factory: pytest.TempPathFactory, broker: str) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        broker_url=broker,
        redis_url=broker,
        runs_dir=tmp_path_factory.mktemp("cb-runs"),
        webhook_secret=SECRET,
        webhook_retry_delays=(1.0, 2.0, 4.0, 8.0, 16.0),
        webhook_timeout_seconds=5.0,
        breaker_failure_threshold=5,
        breaker_cooldown_seconds=2.0,
        delivery_poll_seconds=1.0,
        sweeper_interval_seconds=60.0,
        results_sync_tick_seconds=3600.0,
        callback_allow_http=True,
        callback_allowed_hosts=("127.0.0.1", "localhost"),
        probe_dir=tmp_path_factory.mktemp("cb-probes"),
    )


@pytest.fixture(scope="module")
def callback_stack(callback_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, harness.Process]]:
    """Only what callbacks need: a callbacks worker (concurrency 2), a maintenance worker and beat."""
    log_dir = tmp_path_factory.mktemp("cb-logs")
    env = settings_environ(callback_settings)
    processes = {
        "callbacks": harness.celery_worker("smvm.callbacks", env, log_dir, concurrency=2, name="cb-callbacks").start(),
        "maintenance": harness.celery_worker("smvm.maintenance", env, log_dir, name="cb-maintenance").start(),
        "beat": harness.celery_beat(env, log_dir, name="cb-beat").start(),
    }
    try:
        for name in ("callbacks", "maintenance"):
            harness.wait_for_worker(processes[name])
        yield processes
    finally:
        harness.stop_all(processes.values())


@pytest.fixture(scope="module")
def cb_store(callback_settings: Settings) -> RunStore:
    return harness.wired_store(Database(callback_settings.database_url, minconn=1, maxconn=4), callback_settings)  # type: ignore[arg-type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET, harness.free_port()).start()
    yield server
    server.stop()


def _new_run(store: RunStore, callback_url: str) -> dict[str, Any]:
    body = json.loads(json.dumps(EXAMPLE))
    body.setdefault("metadata", {})["callback_url"] = callback_url
    body["run_id"] = f"RUN-CB-{uuid.uuid4().hex[:12]}"
    run, created = store.create_run(parse_request(body))
    assert created
    return run


def _deliveries(store: RunStore, run_id: str) -> list[dict[str, Any]]:
    with store.db.transaction() as cur:
        cur.execute("SELECT * FROM deliveries WHERE run_id = %s ORDER BY id", (run_id,))
        return list(cur.fetchall())


def _logs(processes: dict[str, harness.Process]) -> str:
    return "\n".join(f"--- {name} ---\n{p.log()[-3000:]}" for name, p in processes.items())


def test_three_failures_then_success_keeps_webhook_id_and_schedule(callback_stack, cb_store, receiver) -> None:
    receiver.fail_next(3, status=500)
    run = _new_run(cb_store, receiver.url)

    harness.wait_until(lambda: receiver.delivered_ids(), timeout=40, what=f"delivery\n{_logs(callback_stack)}")
    attempts = receiver.received("/validation/update")
    assert [r.status for r in attempts] == [500, 500, 500, 200]
    assert len({r.webhook_id for r in attempts}) == 1
    assert all(r.verified for r in attempts), [r.error for r in attempts]
    assert len({r.headers["webhook-timestamp"] for r in attempts}) >= 2  # per attempt, not per message
    assert all(r.headers.get("x-correlation-id") == run["correlation_id"] for r in attempts if run["correlation_id"])
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    for gap, expected in zip(gaps, (1.0, 2.0, 4.0), strict=True):
        assert expected - 0.2 <= gap <= expected + 1.5, gaps
    payload = attempts[-1].json()
    assert payload["validation_id"] == run["validation_id"] and payload["status"] == "running"
    assert 0.0 <= payload["progress"] <= 1.0
    # The receiver sees the 200 before the worker commits it, so wait for the row rather than read it once.
    [row] = harness.wait_until(
        lambda: [r for r in _deliveries(cb_store, run["run_id"]) if r["status"] != "SENDING"] or None,
        timeout=10, what="the delivery row to record its outcome")
    assert row["status"] == "DELIVERED" and row["attempts"] == 4 and row["last_status"] == 200


def test_receiver_down_dead_letters_breaker_and_replay_exactly_once(callback_stack, cb_store, callback_settings) -> None:
    port = harness.free_port()
    receiver = Receiver(SECRET, port)  # not started: the destination is down
    runs = [_new_run(cb_store, receiver.url) for _ in range(3)]
    client = redis.Redis.from_url(callback_settings.redis_url)
    key = f"smvm:breaker:127.0.0.1:{port}:open_until"
    harness.wait_until(lambda: client.exists(key), timeout=40, what=f"breaker open\n{_logs(callback_stack)}")

    def all_dead() -> bool:
        rows = [row for run in runs for row in _deliveries(cb_store, run["run_id"])]
        return bool(rows) and all(row["status"] == "DEAD" for row in rows)

    harness.wait_until(all_dead, timeout=120, interval=0.5, what=f"all dead\n{_logs(callback_stack)}")
    rows = [row for run in runs for row in _deliveries(cb_store, run["run_id"])]
    assert all(row["attempts"] == 6 and row["last_error"] for row in rows)  # the first try and 5 retries
    service = DeliveryService(cb_store.db, callback_settings, None)
    dead, total = service.list_dead(run_id=runs[0]["run_id"])
    assert total == len(dead) >= 1

    receiver.start()
    try:
        replayed = []
        for run in runs:
            replayed += service.replay(run_id=run["run_id"])
        assert sorted(replayed) == sorted(row["id"] for row in rows)
        expected = {row["webhook_id"] for row in rows}
        harness.wait_until(lambda: set(receiver.delivered_ids()) >= expected, timeout=30,
                           what=f"replayed deliveries\n{_logs(callback_stack)}")
        harness.wait_until(lambda: all(r["status"] == "DELIVERED" for run in runs for r in _deliveries(cb_store, run["run_id"])),
                           timeout=10, what="rows delivered")
        delivered = receiver.delivered_ids()
        assert sorted(delivered) == sorted(expected)  # each exactly once by webhook-id
        assert all(r.verified for r in receiver.received())
        assert not client.exists(key)  # the first success closed the breaker
    finally:
        receiver.stop()


def test_gone_disables_destination_and_retry_after_defers(callback_stack, cb_store, receiver) -> None:
    receiver.fail_next(1, status=429, headers={"Retry-After": "1"})
    run = _new_run(cb_store, receiver.url)
    harness.wait_until(lambda: receiver.delivered_ids(), timeout=30, what=f"delivery\n{_logs(callback_stack)}")
    # The receiver answers before the worker commits what it heard: wait for the row, not for the request.
    [row] = harness.wait_until(
        lambda: [r for r in _deliveries(cb_store, run["run_id"]) if r["status"] != "SENDING"], timeout=30,
        what="the delivery's outcome recorded")
    assert row["status"] == "DELIVERED" and row["attempts"] == 1 and row["deferrals"] == 1

    receiver.responder = lambda _: (410, {}, b"{}")
    gone = _new_run(cb_store, receiver.url + "/gone")
    harness.wait_until(lambda: [r for r in _deliveries(cb_store, gone["run_id"]) if r["status"] == "DISABLED"],
                       timeout=30, what="destination disabled")
    with cb_store.db.transaction() as cur:
        cur.execute("SELECT url FROM disabled_destinations")
        assert receiver.url + "/gone/validation/update" in {r["url"] for r in cur.fetchall()}


def test_the_due_poller_leaves_a_backlog_alone_and_republishes_what_the_broker_lost(callback_settings: Settings) -> None:
    from smvm.callbacks.outbox import insert_delivery

    base = os.environ.get("SMVM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with harness.throwaway_database(base, "smvm_due") as url:
        db = Database(url, minconn=1, maxconn=1)
        ids = {}
        with db.transaction() as cur:
            for name, kind, event_type in (("progress", "update", "validation.update.stage_started"),
                                           ("decision", "update", "validation.update.decision_ready"),
                                           ("alert", "alert", "validation.alert.risk_escalation")):
                ids[name] = insert_delivery(cur, run_id=None, kind=kind, event_type=event_type,
                                            url="https://tractionbuild.example/hooks", payload={}, dedupe_key=name,
                                            correlation_id=None)
            for age, name in enumerate(("alert", "decision", "progress"), start=1):  # progress is the oldest
                cur.execute("UPDATE deliveries SET next_attempt_at = now() - %s * interval '1 minute' WHERE id = %s",
                            (age, ids[name]))
        service = DeliveryService(db, callback_settings, None)
        everything = ([ids["decision"], ids["alert"]], [ids["progress"]])
        assert tuple(map(sorted, service.due(queued=None))) == tuple(map(sorted, everything)), "broker silent"
        assert service.due(queued=3) == ([], []), "three messages queued for three rows: a backlog"
        assert service.due(queued=2) == ([], [ids["progress"]]), "one is missing: the oldest goes again"
        assert tuple(map(sorted, service.due(queued=0))) == tuple(map(sorted, everything)), "Redis flushed"
        # A worker died holding a delivery: its lease ran out, so it is due however long the queue.
        with db.transaction() as cur:
            cur.execute("UPDATE deliveries SET status = 'SENDING', lease_until = now() - interval '1 second'"
                        " WHERE id = %s", (ids["progress"],))
        assert service.due(queued=100) == ([], [ids["progress"]])
        db.close()


def _held(cb_store: RunStore, callback_settings: Settings) -> list[dict[str, Any]]:
    return DeliveryService(cb_store.db, callback_settings, None).held()


def test_held_deliveries_are_shown_counted_dead_lettered_with_the_reason_and_replayed(
    callback_stack, cb_store, callback_settings, receiver
) -> None:
    receiver.responder = lambda _: (410, {}, b"{}")
    run = _new_run(cb_store, receiver.url + "/held")
    [row] = harness.wait_until(lambda: [r for r in _deliveries(cb_store, run["run_id"]) if r["status"] == "DISABLED"],
                               timeout=30, what=f"destination disabled\n{_logs(callback_stack)}")
    destination = f"127.0.0.1:{receiver.port}"
    # Visible while it waits: per destination and reason, in the service, the CLI and /metrics.
    groups = [g for g in _held(cb_store, callback_settings) if g["destination"] == destination]
    assert [(g["reason"], g["count"]) for g in groups] == [("disabled", 1)]
    listing = subprocess.run([str(harness.BIN / "smvm"), "dlq", "list"], env=settings_environ(callback_settings),
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert re.search(rf"{re.escape(destination)}\s+disabled\s+1\s+oldest", listing), listing
    samples = {(m.name, tuple(sorted(s.labels.items()))): s.value
               for m in StateCollector(cb_store.db, None).collect() for s in m.samples}
    assert samples[("smvm_webhook_held_deliveries", (("reason", "disabled"),))] >= 1
    assert samples[("smvm_webhook_held_oldest_age_seconds", ())] >= 0

    # A day later (the default SMVM_WEBHOOK_MAX_HOLD_HOURS) beat's poll turns it into a dead letter with the reason.
    with cb_store.db.transaction() as cur:
        cur.execute("UPDATE deliveries SET held_since = now() - interval '25 hours' WHERE id = %s", (row["id"],))
    [dead] = harness.wait_until(lambda: [r for r in _deliveries(cb_store, run["run_id"]) if r["status"] == "DEAD"],
                                timeout=30, what=f"held delivery dead-lettered\n{_logs(callback_stack)}")
    assert dead["last_error"].startswith("held for more than 24 h, disabled: ")  # then its last error
    assert not [g for g in _held(cb_store, callback_settings) if g["destination"] == destination]

    # Replay works for it as for any dead letter: the destination is re-enabled, the webhook-id is the same.
    receiver.responder = ok
    assert DeliveryService(cb_store.db, callback_settings, None).replay(ids=[dead["id"]]) == [dead["id"]]
    harness.wait_until(lambda: dead["webhook_id"] in receiver.delivered_ids(), timeout=30,
                       what=f"replayed held delivery\n{_logs(callback_stack)}")
    harness.wait_until(lambda: _deliveries(cb_store, run["run_id"])[0]["status"] == "DELIVERED", timeout=10,
                       what="the replay recorded")


def test_a_delivery_behind_an_open_breaker_says_so(callback_stack, cb_store, callback_settings) -> None:
    port = harness.free_port()  # nothing listens: every attempt fails and the breaker opens
    runs = [_new_run(cb_store, f"http://127.0.0.1:{port}") for _ in range(2)]
    destination = f"127.0.0.1:{port}"

    def reasons() -> set[str]:
        return {g["reason"] for g in _held(cb_store, callback_settings) if g["destination"] == destination}

    harness.wait_until(lambda: "breaker_open" in reasons(), timeout=60, interval=0.3,
                       what=f"a delivery waiting for the breaker\n{_logs(callback_stack)}")
    assert reasons() <= {"breaker_open", "retrying", "queued"}
    DeliveryService(cb_store.db, callback_settings, None).purge(run_id=None, ids=None, destination=destination)
    with cb_store.db.transaction() as cur:  # leave no traffic behind for the next tests
        cur.execute("DELETE FROM deliveries WHERE run_id = ANY(%s)", ([run["run_id"] for run in runs],))


def test_a_host_that_does_not_resolve_is_retried_not_dead_at_once(callback_stack, cb_store) -> None:
    # RFC 2606's .test never resolves; to SMVM it is any name whose DNS is down at the moment.
    run = _new_run(cb_store, f"http://smvm-{uuid.uuid4().hex[:8]}.test")
    [row] = harness.wait_until(
        lambda: [r for r in _deliveries(cb_store, run["run_id"]) if r["attempts"] >= 1 and r["status"] != "SENDING"],
        timeout=30, what=f"a first attempt\n{_logs(callback_stack)}")
    assert row["status"] == "PENDING" and row["hold_reason"] == "retrying", row
    assert "does not resolve" in row["last_error"]
    with cb_store.db.transaction() as cur:  # no traffic left behind for the next tests
        cur.execute("DELETE FROM deliveries WHERE run_id = %s", (run["run_id"],))
