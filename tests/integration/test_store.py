"""The run store against a real PostgreSQL: migrations, fencing by attempt, recovery queries, transitions."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import time
import uuid

import pytest

from smvm.errors import InvalidTransitionError, RunConflictError
from smvm.intake.validation import parse_request
from smvm.pipeline.stages import STAGE_NAMES
from smvm.privacy.retention import purge_expired_runs
from smvm.runs.execution import execute_stage
from smvm.runs.store import RunStore
from smvm.store.db import Database, upgrade
from tests.bad_inputs import VALID
from tests.integration import harness

pytestmark = pytest.mark.integration


def _request(**configuration) -> dict:
    body = {**VALID, "project_id": "PROJ-STORE", "configuration": {**VALID["configuration"], **configuration}}
    return parse_request(body)


@pytest.fixture
def fast_store(store: RunStore) -> RunStore:
    settings = store.settings.with_overrides(stage_stale_after_seconds=0.0, stage_unstarted_after_seconds=0.0,
                                             stage_max_attempts=3)
    return harness.wired_store(store.db, settings)


def test_pool_reuses_its_connections_under_concurrency(database_url: str) -> None:
    # psycopg2's pool closes a returned connection once minconn are idle; ours keeps them, so four transactions
    # at a time, again and again, are served by the same four server processes instead of new ones each round.
    db = Database(database_url, minconn=1, maxconn=4)
    pids = set()
    try:
        for _ in range(5):
            with contextlib.ExitStack() as stack:
                for _ in range(4):
                    cur = stack.enter_context(db.transaction())
                    cur.execute("SELECT pg_backend_pid() AS pid")
                    pids.add(cur.fetchone()["pid"])
    finally:
        db.close()
    assert len(pids) == 4


def test_concurrent_upgrades_apply_each_migration_once(database_url: str) -> None:
    with harness.throwaway_database(database_url, "smvm_mig", migrate=False) as url:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: upgrade(Database(url, maxconn=1)), range(4)))
        applied = [version for result in results for version in result]
        assert sorted(applied) == sorted(set(applied)) and "0001_runs" in applied
        assert upgrade(Database(url, maxconn=1)) == []


def test_same_run_id_replays_and_different_payload_conflicts(store: RunStore) -> None:
    request = {**_request(), "run_id": f"RUN-store-{uuid.uuid4().hex[:6]}"}
    run, created = store.create_run(request)
    again, created_again = store.create_run(request)
    assert created and not created_again and again["response"] == run["response"]
    changed = {**request, "idea": {**request["idea"], "title": "Different"}}
    with pytest.raises(RunConflictError):
        store.create_run(changed)


def test_a_stale_attempt_is_fenced_out(store: RunStore) -> None:
    run, _ = store.create_run(_request())
    claimed = store.claim_stage(run["run_id"], "idea_validation", worker="w1")
    assert claimed is not None and claimed[1] == 1
    assert store.claim_stage(run["run_id"], "idea_validation", worker="w2") is None, "a live attempt is not stolen"
    # Simulate the sweeper handing the stage to a new attempt after the first worker went silent.
    with store.db.transaction() as cur:
        cur.execute("UPDATE stages SET heartbeat_at = now() - interval '1 hour' WHERE run_id = %s", (run["run_id"],))
    second = store.claim_stage(run["run_id"], "idea_validation", worker="w2")
    assert second is not None and second[1] == 2
    assert store.complete_stage(run["run_id"], "idea_validation", 1, summary={}, artifacts={}, duration_ms=1) is None
    assert store.heartbeat(run["run_id"], "idea_validation", 1) is False
    assert store.complete_stage(run["run_id"], "idea_validation", 2, summary={}, artifacts={}, duration_ms=1) == "data_ingestion"


def test_stages_cannot_run_out_of_order(store: RunStore) -> None:
    run, _ = store.create_run(_request())
    assert store.claim_stage(run["run_id"], "market_simulation") is None


def test_execute_stage_runs_the_whole_pipeline_in_order(store: RunStore) -> None:
    run, _ = store.create_run(_request())
    stage = STAGE_NAMES[0]
    seen = []
    while stage:
        seen.append(stage)
        stage = execute_stage(store, run["run_id"], stage, worker="test")
        assert stage is not None
    assert seen == list(STAGE_NAMES)
    finished, stages = store.detail(run["run_id"])
    assert finished["status"] == "COMPLETED" and finished["recommendation"] in ("GO", "PIVOT", "KILL")
    assert all(s["attempt"] == 1 for s in stages)
    assert execute_stage(store, run["run_id"], "decision_analysis") is None, "a duplicate does nothing"


def test_sweeper_finds_unstarted_and_stale_stages(fast_store: RunStore) -> None:
    run, _ = fast_store.create_run(_request())
    stuck = {(run_id, stage, reason) for run_id, stage, reason in fast_store.find_stuck_stages()}
    assert (run["run_id"], "idea_validation", "unstarted") in stuck
    fast_store.claim_stage(run["run_id"], "idea_validation")
    with fast_store.db.transaction() as cur:
        cur.execute("UPDATE stages SET heartbeat_at = now() - interval '1 minute' WHERE run_id = %s", (run["run_id"],))
    stuck = {(run_id, stage, reason) for run_id, stage, reason in fast_store.find_stuck_stages()}
    assert (run["run_id"], "idea_validation", "stale_heartbeat") in stuck


def test_sweeper_leaves_a_backlog_alone_and_requeues_what_the_broker_lost(fast_store: RunStore) -> None:
    run, _ = fast_store.create_run(_request())
    key = (run["run_id"], "idea_validation", "unstarted")
    # The queue holds at least a message per ENQUEUED stage: the stage is waiting its turn, not lost.
    backlog = {"smvm.pipeline": 10**6}
    assert key not in {tuple(row) for row in fast_store.find_stuck_stages(backlog)}
    # An empty queue (Redis flushed or restarted without persistence) means the messages are gone.
    assert key in {tuple(row) for row in fast_store.find_stuck_stages({"smvm.pipeline": 0})}
    # A dead worker's stage is re-enqueued however long its queue.
    fast_store.claim_stage(run["run_id"], "idea_validation")
    with fast_store.db.transaction() as cur:
        cur.execute("UPDATE stages SET heartbeat_at = now() - interval '1 minute' WHERE run_id = %s", (run["run_id"],))
    assert (run["run_id"], "idea_validation", "stale_heartbeat") in {tuple(r) for r in fast_store.find_stuck_stages(backlog)}


def test_t0_update_is_published_by_the_first_stage_claim(store: RunStore) -> None:
    published: list[list[int]] = []
    store = harness.wired_store(store.db, store.settings, lambda ids, countdown=None, **_: published.append(list(ids)))
    body = {**VALID, "project_id": "PROJ-STORE", "run_id": f"RUN-T0PUB-{uuid.uuid4().hex[:8]}",
            "metadata": {**VALID["metadata"], "callback_url": "https://tractionbuild.example/hooks"}}
    run, _ = store.create_run(parse_request(body))
    assert published == [], "T0 spends no publish: the 202 already says INITIATED"
    store.claim_stage(run["run_id"], "idea_validation")
    with store.db.transaction() as cur:
        cur.execute("SELECT id, event_type FROM deliveries WHERE run_id = %s ORDER BY id", (run["run_id"],))
        rows = cur.fetchall()
    assert rows[0]["event_type"] == "validation.update.run_initiated"
    # RUN_STARTED publishes the T0 update and its own; STAGE_STARTED then its own: each row once, T0 first.
    assert [delivery_id for batch in published for delivery_id in batch] == [row["id"] for row in rows]


def test_only_the_decision_and_alerts_skip_the_queue_of_progress_updates(store: RunStore) -> None:
    published: list[tuple[int, bool]] = []
    store = harness.wired_store(store.db, store.settings,
                                lambda ids, countdown=None, *, routine, **_: published.extend((i, routine) for i in ids))
    body = {**VALID, "project_id": "PROJ-STORE", "run_id": f"RUN-LANES-{uuid.uuid4().hex[:8]}",
            "metadata": {**VALID["metadata"], "callback_url": "https://tractionbuild.example/hooks"}}
    run, _ = store.create_run(parse_request(body))
    for stage in STAGE_NAMES:
        execute_stage(store, run["run_id"], stage)
    with store.db.transaction() as cur:
        cur.execute("SELECT id, event_type FROM deliveries WHERE run_id = %s", (run["run_id"],))
        kinds = {row["id"]: row["event_type"] for row in cur.fetchall()}
    assert sorted(i for i, _ in published) == sorted(kinds), "every delivery is published once"
    urgent = {kinds[i] for i, routine in published if not routine}
    assert "validation.update.decision_ready" in urgent
    assert urgent <= {"validation.update.decision_ready"} | {k for k in kinds.values() if k.startswith("validation.alert.")}
    routine = {kinds[i] for i, is_routine in published if is_routine}
    assert {"validation.update.stage_started", "validation.update.stage_completed",
            "validation.update.run_completed"} <= routine


def test_redelivery_cap_fails_the_stage_and_run(fast_store: RunStore) -> None:
    run, _ = fast_store.create_run(_request())
    for expected in (1, 2, 3):
        claimed = fast_store.claim_stage(run["run_id"], "idea_validation")
        assert claimed is not None and claimed[1] == expected
    assert fast_store.claim_stage(run["run_id"], "idea_validation") is None
    failed, stages = fast_store.detail(run["run_id"])
    assert failed["status"] == "FAILED" and "redelivery cap" in failed["error"]["message"]
    assert stages[0]["status"] == "FAILED" and all(s["status"] == "CANCELLED" for s in stages[1:])


def test_timeout_makes_a_run_incomplete_and_keeps_partial_results(store: RunStore) -> None:
    run, _ = store.create_run(_request(timeout_seconds=10))
    assert execute_stage(store, run["run_id"], "idea_validation") == "data_ingestion"
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET deadline_at = %s WHERE run_id = %s",
                    (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), run["run_id"]))
    assert run["run_id"] in store.expire_overdue_runs()
    expired, stages = store.detail(run["run_id"])
    assert expired["status"] == "INCOMPLETE"
    assert stages[0]["status"] == "SUCCEEDED" and "idea.input.json" in store.artifacts(run["run_id"])
    assert store.claim_stage(run["run_id"], "data_ingestion") is None


def test_illegal_transitions_are_refused(store: RunStore) -> None:
    run, _ = store.create_run(_request())
    with pytest.raises(InvalidTransitionError):
        store.finalize(run["run_id"], {})
    with pytest.raises(InvalidTransitionError):
        store.mark_complete(run["validation_id"], {})
    store.cancel(run["run_id"], "test")
    with pytest.raises(InvalidTransitionError):
        store.cancel(run["run_id"], "again")


def test_retention_purges_old_finished_runs_their_files_and_stale_temp_files(
    database_url: str, store: RunStore, tmp_path
) -> None:
    with harness.throwaway_database(database_url, "smvm_retention") as url:
        settings = store.settings.with_overrides(database_url=url, runs_dir=tmp_path, retention_days=30)
        db = Database(url, maxconn=2)
        own = harness.wired_store(db, settings)
        runs = {}
        for name in ("old_done", "old_active", "recent_done"):
            body = {**VALID, "project_id": "PROJ-RETAIN", "run_id": f"RUN-RETAIN-{name}-{uuid.uuid4().hex[:6]}"}
            runs[name], _ = own.create_run(parse_request(body))
        with db.transaction() as cur:
            cur.execute("UPDATE runs SET status = 'COMPLETED' WHERE run_id IN (%s, %s)",
                        (runs["old_done"]["run_id"], runs["recent_done"]["run_id"]))
            cur.execute("UPDATE runs SET created_at = now() - interval '40 days' WHERE run_id IN (%s, %s)",
                        (runs["old_done"]["run_id"], runs["old_active"]["run_id"]))
            cur.execute("INSERT INTO idempotency_keys (client, key, fingerprint, state, created_at) VALUES"
                        " ('c', 'old', 'f', 'DONE', now() - interval '3 days'), ('c', 'new', 'f', 'DONE', now())")
        folders = {name: own.run_directory(run).path for name, run in runs.items()}
        leftover = folders["recent_done"] / ".validation_summary.json.x1y2z3.tmp"  # a write killed half-way
        leftover.write_bytes(b"partial")
        long_ago = time.time() - 2 * settings.stage_time_limit
        os.utime(leftover, (long_ago, long_ago))
        try:
            result = purge_expired_runs(db, settings)
            again = purge_expired_runs(db, settings)
            with db.transaction() as cur:
                cur.execute("SELECT run_id FROM runs ORDER BY run_id")
                left = {row["run_id"] for row in cur.fetchall()}
                cur.execute("SELECT key FROM idempotency_keys")
                keys = {row["key"] for row in cur.fetchall()}
        finally:
            db.close()
    assert result["purged"] == [runs["old_done"]["run_id"]] and result["temp_files_removed"] == 1
    assert again["purged"] == [], "retention runs once per logical date"
    assert left == {runs["old_active"]["run_id"], runs["recent_done"]["run_id"]}, "an active run is never purged"
    assert not folders["old_done"].exists() and folders["old_active"].exists() and folders["recent_done"].exists()
    assert not leftover.exists()
    assert keys == {"new"}
