"""Fault tests with real processes: a SIGKILLed simulation worker, a flushed and a restarted Redis, a restarted
PostgreSQL. Each test runs a dedicated stack (gunicorn, one Celery worker per queue, beat) against throwaway
servers from ``servers.py`` with fast recovery settings, and fails if the durable recovery path (stage rows in
PostgreSQL plus the sweeper) does not carry every run to COMPLETED.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from smvm.config import Settings
from smvm.pipeline.stages import STAGE_NAMES
from smvm.store.db import Database
from tests.bad_inputs import VALID
from tests.integration import harness, servers
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

COMPLETED = ("COMPLETED",)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[servers.RedisServer]:
    server = servers.RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.cleanup()


def _body(iterations: int, tag: str) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    body["project_id"] = f"PROJ-FAULT-{tag}"
    body["run_id"] = f"RUN-FAULT-{tag}-{uuid.uuid4().hex[:10]}"
    body["configuration"]["simulation_iterations"] = iterations
    return body


def _submit(stack: Stack, count: int, iterations: int, tag: str) -> list[str]:
    run_ids = []
    for _ in range(count):
        response = stack.post_run(_body(iterations, tag))
        assert response.status_code == 202, response.text
        run_ids.append(response.json()["run_id"])
    return run_ids


def _query(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.transaction() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def _statuses(db: Database, run_ids: list[str]) -> dict[str, str]:
    rows = _query(db, "SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", run_ids)
    return {row["run_id"]: row["status"] for row in rows}


def _wait_all_completed(stack: Stack, db: Database, run_ids: list[str], timeout: float) -> None:
    """Every run COMPLETED (read from the truth, PostgreSQL); a FAILED run fails the test at once."""

    def done() -> bool:
        statuses = _statuses(db, run_ids)
        failed = {run_id: status for run_id, status in statuses.items() if status not in ("INITIATED", "RUNNING", "COMPLETED")}
        if failed:
            raise AssertionError(f"runs left the happy path: {failed}\n{stack.logs()}")
        return len(statuses) == len(run_ids) and all(status == "COMPLETED" for status in statuses.values())

    try:
        harness.wait_until(done, timeout=timeout, interval=0.5, what=f"{len(run_ids)} runs COMPLETED")
    except AssertionError as exc:
        stuck = _query(
            db, "SELECT run_id, name, status, attempt, enqueued_at, heartbeat_at FROM stages"
            " WHERE run_id = ANY(%s) AND status <> 'SUCCEEDED' ORDER BY run_id, position", run_ids,
        )
        raise AssertionError(f"{exc}\nunfinished stages: {stuck}\n{stack.logs()}") from None


def _sweeper_requeues(stack: Stack) -> int:
    return stack.processes["smvm.maintenance"].log().count("smvm.sweeper.requeued")


@pytest.fixture
def fault_stack(request: pytest.FixtureRequest, pg_cluster, redis_server, tmp_path: Path) -> Iterator[tuple[Stack, Database]]:
    overrides = getattr(request, "param", {})
    settings: Settings = servers.fault_settings(pg_cluster, redis_server, tmp_path, **overrides)
    db = Database(settings.database_url, minconn=1, maxconn=2)  # type: ignore[arg-type]
    with servers.running_stack(settings, tmp_path / "logs") as stack:
        yield stack, db
    db.close()


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


@pytest.mark.parametrize("target", ["worker-group", "prefork-child"])
def test_sigkill_simulation_worker_mid_stage(fault_stack, target: str) -> None:
    stack, db = fault_stack
    [run_id] = _submit(stack, 1, iterations=600_000, tag="KILL")

    def simulating() -> dict[str, Any] | None:
        [row] = _query(db, "SELECT status, attempt FROM stages WHERE run_id = %s AND name = 'market_simulation'", run_id)
        return row if row["status"] == "RUNNING" else None

    harness.wait_until(simulating, timeout=60, interval=0.05, what=f"market_simulation RUNNING\n{stack.logs()}")
    # Kill inside the Monte Carlo loop (the config is written first), not while a file is being renamed into place.
    [run] = _query(db, "SELECT run_dir FROM runs WHERE run_id = %s", run_id)
    config = Path(run["run_dir"]) / "outputs" / "simulation.config.json"
    harness.wait_until(config.exists, timeout=30, interval=0.02, what="simulation.config.json written")
    worker = stack.processes["smvm.simulation"]
    if target == "worker-group":
        worker.kill()  # SIGKILL to the whole worker process group (master and child), mid-stage
    else:
        [child] = _children(worker.pid)  # concurrency 1: the one prefork child is the one executing
        os.kill(child, signal.SIGKILL)
    [row] = _query(db, "SELECT status, attempt FROM stages WHERE run_id = %s AND name = 'market_simulation'", run_id)
    assert (row["status"], row["attempt"]) == ("RUNNING", 1), "the stage finished before the kill; raise iterations"

    if target == "worker-group":
        replacement = harness.celery_worker("smvm.simulation", stack.env, stack.log_dir, name="simulation-2").start()
        stack.processes["simulation-2"] = replacement
        harness.wait_for_worker(replacement, timeout=60)
    _wait_all_completed(stack, db, [run_id], timeout=90)

    stages = {row["name"]: row for row in _query(db, "SELECT name, status, attempt FROM stages WHERE run_id = %s", run_id)}
    assert stages["market_simulation"]["attempt"] == 2  # the killed attempt, then the sweeper's
    assert stages["decision_analysis"]["attempt"] == 1
    assert all(stage["status"] == "SUCCEEDED" for stage in stages.values())
    kinds = [row["kind"] for row in _query(db, "SELECT kind FROM events WHERE run_id = %s ORDER BY id", run_id)]
    assert kinds.count("DECISION_READY") == 1
    assert kinds.count("RUN_COMPLETED") == 1
    completed = _query(db, "SELECT stage FROM events WHERE run_id = %s AND kind = 'STAGE_COMPLETED'", run_id)
    assert sorted(row["stage"] for row in completed) == sorted(STAGE_NAMES)  # each stage's outcome recorded once

    # The audit trail on disk agrees: one decision, and every artifact row's sha256 matches the bytes.
    [run] = _query(db, "SELECT run_dir FROM runs WHERE run_id = %s", run_id)
    run_dir = Path(run["run_dir"])
    disk_events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    assert [event["kind"] for event in disk_events].count("DECISION_READY") == 1
    artifacts = _query(db, "SELECT path, stage, sha256 FROM artifacts WHERE run_id = %s", run_id)
    paths = [row["path"] for row in artifacts]
    assert len(paths) == len(set(paths))
    assert {"outputs/simulation.result.json", "outputs/decision.output.json", "reports/analysis_report.pdf"} <= set(paths)
    for row in artifacts:
        assert hashlib.sha256((run_dir / row["path"]).read_bytes()).hexdigest() == row["sha256"], row["path"]


def _wait_in_flight(stack: Stack, db: Database, run_ids: list[str], broker_key_present) -> None:
    """Wait until work is mid-flight: some stages done, none of the runs finished, messages waiting in Redis."""

    def mid_flight() -> bool:
        done = _query(db, "SELECT count(*) AS n FROM stages WHERE run_id = ANY(%s) AND status = 'SUCCEEDED'", run_ids)[0]["n"]
        completed = sum(1 for status in _statuses(db, run_ids).values() if status == "COMPLETED")
        if completed:
            raise AssertionError("a run completed before the fault was injected; the test proves nothing")
        return done >= 3 and broker_key_present()

    harness.wait_until(mid_flight, timeout=60, interval=0.05, what=f"runs in flight\n{stack.logs()}")


def test_redis_flushed_with_twenty_runs_in_flight(fault_stack, redis_server) -> None:
    stack, db = fault_stack
    client = redis_server.client()
    run_ids = _submit(stack, 20, iterations=2_000, tag="FLUSH")
    _wait_in_flight(stack, db, run_ids, lambda: client.llen("smvm.pipeline") >= 5)
    client.flushdb()
    # Workers keep running: one may publish its next stage between the flush and this check (seen once: 1).
    assert client.llen("smvm.pipeline") < 5
    before = _sweeper_requeues(stack)
    _wait_all_completed(stack, db, run_ids, timeout=150)
    assert _sweeper_requeues(stack) > before, "the runs completed without the sweeper: nothing was lost by the flush"


def test_redis_restarted_with_runs_in_flight(fault_stack, redis_server) -> None:
    stack, db = fault_stack
    client = redis_server.client()
    run_ids = _submit(stack, 20, iterations=2_000, tag="RESTART")
    _wait_in_flight(stack, db, run_ids, lambda: client.llen("smvm.pipeline") >= 5)
    before = _sweeper_requeues(stack)
    redis_server.restart(down_for=1.0)  # no persistence: every queued message is gone
    assert redis_server.client().llen("smvm.pipeline") == 0
    _wait_all_completed(stack, db, run_ids, timeout=150)
    assert _sweeper_requeues(stack) > before, "the runs completed without the sweeper: nothing was lost by the restart"
    # The API and workers are healthy on the new Redis: a fresh run goes through.
    [fresh] = _submit(stack, 1, iterations=1_000, tag="AFTER")
    _wait_all_completed(stack, db, [fresh], timeout=60)


def test_postgresql_restarted_mid_run(fault_stack, pg_cluster) -> None:
    stack, db = fault_stack
    run_ids = _submit(stack, 4, iterations=300_000, tag="PG")

    def simulating() -> bool:
        rows = _query(db, "SELECT count(*) AS n FROM stages WHERE run_id = ANY(%s) AND name = 'market_simulation'"
                      " AND status = 'RUNNING'", run_ids)
        return rows[0]["n"] >= 1

    harness.wait_until(simulating, timeout=60, interval=0.05, what=f"a simulation RUNNING\n{stack.logs()}")
    pg_cluster.restart("fast")  # every connection of every process is cut mid-transaction
    # The API's pooled connections died with the server: the first reads after the restart must still answer.
    for run_id in run_ids:
        response = requests.get(stack.api(f"/validation/{run_id}/status"), timeout=10)
        assert response.status_code == 200, response.text
    _wait_all_completed(stack, db, run_ids, timeout=150)
    for run_id in run_ids:
        kinds = [row["kind"] for row in _query(db, "SELECT kind FROM events WHERE run_id = %s", run_id)]
        assert kinds.count("DECISION_READY") == 1 and kinds.count("RUN_COMPLETED") == 1, (run_id, kinds)
    response = requests.get(stack.api(f"/validation/{run_ids[0]}/status"), timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "COMPLETED"


def _observe_strongly(stack: Stack, run_id: str) -> dict[str, Any]:
    result = requests.get(stack.api(f"/validation/{run_id}/artifacts/simulation.result.json"), timeout=10).json()
    customers, mrr = result["quantiles"]["obs_customers"], result["quantiles"]["obs_mrr"]
    return {"observed_metrics": {"paying_customers": int(customers[96]) + 2, "mrr": round(mrr[96] * 1.1, 2)}}


def test_sigkill_during_the_posterior_update(fault_stack) -> None:
    """The T0+30 update's worker dies mid-stage: the run stays COMPLETED with its T0 decision answering, and the
    sweeper finishes the update on a new worker."""
    stack, db = fault_stack
    worker = stack.processes["smvm.simulation"]
    # The update takes about a second: a run whose update finished before the kill landed is tried again.
    for attempt in range(3):
        [run_id] = _submit(stack, 1, iterations=5_000, tag=f"POST{attempt}")
        _wait_all_completed(stack, db, [run_id], timeout=90)
        prior = requests.get(stack.api(f"/validation/{run_id}/gate"), timeout=10).json()
        put = requests.put(stack.api(f"/validation/{run_id}/complete"), json=_observe_strongly(stack, run_id), timeout=10)
        assert put.status_code == 200, put.text

        def update_stage(run_id: str = run_id) -> dict[str, Any] | None:
            rows = _query(db, "SELECT status, attempt FROM stages WHERE run_id = %s AND name = 'posterior_update'", run_id)
            return rows[0] if rows and rows[0]["status"] in ("RUNNING", "SUCCEEDED") else None

        seen = harness.wait_until(update_stage, timeout=60, interval=0.01, what=f"posterior_update started\n{stack.logs()}")
        if seen["status"] == "RUNNING":
            worker.kill()  # SIGKILL to the whole simulation worker group, mid-update
            [row] = _query(db, "SELECT status, attempt FROM stages WHERE run_id = %s AND name = 'posterior_update'",
                           run_id)
            if row["status"] == "RUNNING":
                break
            worker = harness.celery_worker("smvm.simulation", stack.env, stack.log_dir, name=f"simulation-{attempt}").start()
            stack.processes[f"simulation-{attempt}"] = worker
            harness.wait_for_worker(worker, timeout=60)
    else:
        pytest.fail("the posterior update finished before every kill: nothing was tested")

    # While the update is down, the run and its T0 decision are intact.
    status = requests.get(stack.api(f"/validation/{run_id}/status"), timeout=10).json()
    assert status["status"] == "COMPLETED" and status["posterior"]["status"] == "running"
    during = requests.get(stack.api(f"/validation/{run_id}/gate"), timeout=10).json()
    assert (during["recommendation"], during["source"]) == (prior["recommendation"], "prior")

    replacement = harness.celery_worker("smvm.simulation", stack.env, stack.log_dir, name="simulation-after").start()
    stack.processes["simulation-after"] = replacement
    harness.wait_for_worker(replacement, timeout=60)

    def ready() -> bool:
        [run] = _query(db, "SELECT status, posterior FROM runs WHERE run_id = %s", run_id)
        assert run["status"] == "COMPLETED", run
        return run["posterior"] is not None

    harness.wait_until(ready, timeout=90, interval=0.3, what=f"the posterior decision\n{stack.logs()}")
    stages = {row["name"]: row for row in _query(db, "SELECT name, status, attempt FROM stages WHERE run_id = %s", run_id)}
    assert (stages["posterior_update"]["status"], stages["posterior_update"]["attempt"]) == ("SUCCEEDED", 2)
    assert stages["posterior_report"]["status"] == "SUCCEEDED"
    kinds = [row["kind"] for row in _query(db, "SELECT kind FROM events WHERE run_id = %s", run_id)]
    assert kinds.count("POSTERIOR_READY") == 1 and kinds.count("RUN_COMPLETED") == 1 and "RUN_FAILED" not in kinds
    after = requests.get(stack.api(f"/validation/{run_id}/gate"), timeout=10).json()
    assert after["source"] == "posterior"
