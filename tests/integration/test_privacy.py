"""A run carrying PII leaves none of it in logs, events, artifacts or Flower; erasure removes it and is audited."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from smvm.pipeline.stages import STAGE_NAMES
from smvm.privacy.pii import hash_submitter
from tests.integration import harness

pytestmark = pytest.mark.integration

EMAIL = "founder.private@example.com"
PHONE = "+1 415 555 0199"
SUBMITTER = "Submitter.Private@example.com"
#: Every form in which the PII could leak: as sent, lower-cased, and the phone's distinctive digits.
LEAKS = (EMAIL, PHONE, SUBMITTER, SUBMITTER.lower(), "555 0199", "4155550199")
FLOWER_AUTH = ("privacy", "flower-test")


@pytest.fixture(scope="module")
def flower(stack, tmp_path_factory: pytest.TempPathFactory):
    """Flower records task events live, so it starts before the run is submitted."""
    port = harness.free_port()
    log_dir = tmp_path_factory.mktemp("flower-privacy")
    process = harness.flower(stack.env, log_dir, port, FLOWER_AUTH, name="flower-privacy").start()
    base = f"http://127.0.0.1:{port}"
    try:
        harness.wait_for_flower_events(base, FLOWER_AUTH)
        yield base, process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def pii_run(stack, flower, example_body: dict[str, Any], store) -> dict[str, Any]:
    body = copy.deepcopy(example_body)
    body["project_id"] = f"PRIV-{uuid.uuid4().hex[:8]}"
    body["business_idea"]["description"] += f". Questions to {EMAIL} or call {PHONE} any weekday."
    body["metadata"]["initiated_by"] = SUBMITTER
    correlation_id = f"CORR-privacy-{uuid.uuid4().hex[:12]}"
    response = stack.post_run(body, headers={"X-Correlation-ID": correlation_id})
    assert response.status_code == 202, response.text
    assert response.headers["X-Correlation-ID"] == correlation_id
    run_id = response.json()["run_id"]
    stack.wait_for_status(run_id)
    run = store.resolve(run_id)
    return {"run_id": run_id, "project_id": body["project_id"], "correlation_id": correlation_id, "run": run,
            "run_dir": Path(run["run_dir"])}


def _assert_clean(where: str, text: str) -> None:
    leaked = [value for value in LEAKS if value in text]
    assert not leaked, f"{leaked} found in {where}"


def test_run_completes_with_masked_text_and_a_hashed_submitter(pii_run: dict[str, Any]) -> None:
    run = pii_run["run"]
    assert run["status"] == "COMPLETED"
    assert "[EMAIL]" in run["request"]["idea"]["description"] and "[PHONE]" in run["request"]["idea"]["description"]
    assert run["request"]["metadata"]["initiated_by"] == hash_submitter(SUBMITTER)
    assert run["correlation_id"] == pii_run["correlation_id"]


def test_submitter_hash_is_on_the_run_row(pii_run: dict[str, Any], store) -> None:
    with store.db.transaction() as cur:
        cur.execute("SELECT submitter_hash FROM runs WHERE run_id = %s", (pii_run["run_id"],))
        assert cur.fetchone()["submitter_hash"] == hash_submitter(SUBMITTER)


def test_no_pii_in_rows_events_or_artifacts(pii_run: dict[str, Any], store) -> None:
    with store.db.transaction() as cur:
        cur.execute("SELECT row_to_json(r)::text AS row FROM runs r WHERE run_id = %s", (pii_run["run_id"],))
        _assert_clean("the runs row", cur.fetchone()["row"])
        cur.execute("SELECT coalesce(string_agg(row_to_json(e)::text, ' '), '') AS rows FROM events e"
                    " WHERE run_id = %s", (pii_run["run_id"],))
        _assert_clean("the events table", cur.fetchone()["rows"])
    files = [path for path in pii_run["run_dir"].rglob("*") if path.is_file()]
    assert {"events.jsonl", "idea.input.json", "meta.json"} <= {path.name for path in files}
    for path in files:
        _assert_clean(str(path.relative_to(pii_run["run_dir"])), path.read_bytes().decode("latin-1"))


def test_no_pii_in_any_process_log(stack, pii_run: dict[str, Any], flower) -> None:
    for name, process in [*stack.processes.items(), ("flower", flower[1])]:
        _assert_clean(f"the {name} log", process.log())


def test_flower_shows_only_the_run_id_as_task_arguments(pii_run: dict[str, Any], flower) -> None:
    base, _ = flower
    run_id = pii_run["run_id"]

    def stage_tasks() -> dict[str, Any] | None:
        response = requests.get(f"{base}/api/tasks", params={"search": run_id, "limit": 100}, auth=FLOWER_AUTH,
                                timeout=10)
        response.raise_for_status()
        # A task Flower has only seen a later event of has no name yet: wait for its "received" event.
        tasks = {key: task for key, task in response.json().items() if (task.get("name") or "").startswith("smvm.stage.")}
        return tasks if {task["name"] for task in tasks.values()} >= {f"smvm.stage.{s}" for s in STAGE_NAMES} else None

    tasks = harness.wait_until(stage_tasks, timeout=30, interval=0.5, what="the run's stage tasks in Flower")
    for task in tasks.values():
        # The first task's args repr is a tuple, chained ones' a list; either way the run id and nothing else.
        assert list(ast.literal_eval(task["args"])) == [run_id] and ast.literal_eval(task["kwargs"] or "{}") == {}
    _assert_clean("Flower's task list", json.dumps(tasks))


def test_worker_logs_are_json_with_the_posted_correlation_id(stack, pii_run: dict[str, Any]) -> None:
    lines = []
    for queue in ("smvm.pipeline", "smvm.simulation"):
        for raw in stack.processes[queue].log().splitlines():
            if raw.startswith("{"):
                line = json.loads(raw)
                if line.get("run_id") == pii_run["run_id"]:
                    lines.append(line)
    finished = {line["stage"]: line for line in lines if line["msg"] == "smvm.task.finished"}
    assert set(finished) == set(STAGE_NAMES), sorted(finished)
    for line in finished.values():
        assert line["correlation_id"] == pii_run["correlation_id"]
        assert line["task_id"].startswith(pii_run["run_id"]) and line["task_name"] == f"smvm.stage.{line['stage']}"
        assert line["service"] == "worker" and line["attempt"] >= 1
    web = [json.loads(raw) for raw in stack.processes["web"].log().splitlines() if raw.startswith("{")]
    assert any(line["msg"] == "smvm.http.request" and line["correlation_id"] == pii_run["correlation_id"]
               and line["route"] == "/api/v1/validation/runs" and line["status"] == 202 for line in web)


def test_erase_project_removes_rows_and_files_and_leaves_an_audit_entry(stack, pii_run: dict[str, Any], store) -> None:
    argv = [str(harness.BIN / "python"), "-m", "smvm.cli", "erase", "--project", pii_run["project_id"],
            "--requested-by", "ticket-PRIV-1"]
    # Without --yes it asks first, saying how many runs; anything but yes erases nothing.
    declined = subprocess.run(argv, input="no\n", cwd=harness.ROOT, env=stack.env, capture_output=True, text=True,
                              timeout=60)
    assert declined.returncode == 1 and declined.stdout == ""
    assert f"Erase 1 run(s) of project {pii_run['project_id']}" in declined.stderr
    assert pii_run["run_dir"].exists()
    assert requests.get(stack.api(f"/validation/{pii_run['run_id']}/status"), timeout=5).status_code == 200
    result = subprocess.run([*argv, "--yes"], cwd=harness.ROOT, env=stack.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)
    assert entry["runs_deleted"] == 1 and entry["directories_deleted"] == 1 and entry["run_ids"] == [pii_run["run_id"]]
    assert not pii_run["run_dir"].exists()
    with store.db.transaction() as cur:
        for table in ("runs", "stages", "events", "artifacts", "deliveries"):
            cur.execute(f"SELECT count(*) AS n FROM {table} WHERE run_id = %s", (pii_run["run_id"],))
            assert cur.fetchone()["n"] == 0, table
        cur.execute("SELECT requested_by, scope, subject, runs_deleted FROM erasures WHERE id = %s", (entry["id"],))
        assert cur.fetchone() == {"requested_by": "ticket-PRIV-1", "scope": "project", "subject": pii_run["project_id"],
                                  "runs_deleted": 1}
    assert requests.get(stack.api(f"/validation/{pii_run['run_id']}/status"), timeout=5).status_code == 404


def test_erase_submitter_finds_runs_by_hash_and_audits_only_the_hash(store) -> None:
    from smvm.intake.validation import parse_request
    from smvm.privacy.erasure import erase_submitter

    submitter = f"erase.me.{uuid.uuid4().hex[:6]}@example.com"
    run_ids = []
    for project in ("PRIV-SUB-A", "PRIV-SUB-B"):
        request = parse_request({"project_id": project, "business_idea": {"description": "Payroll for plumbers"},
                                 "metadata": {"initiated_by": submitter}})
        run, created = store.create_run(request)
        assert created
        run_ids.append(run["run_id"])
    entry = erase_submitter(store.db, store.settings, submitter.upper(), requested_by="ticket-PRIV-2")
    assert sorted(entry["run_ids"]) == sorted(run_ids) and entry["subject"] == hash_submitter(submitter)
    with store.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM runs WHERE run_id = ANY(%s)", (run_ids,))
        assert cur.fetchone()["n"] == 0
        cur.execute("SELECT row_to_json(e)::text AS row FROM erasures e WHERE id = %s", (entry["id"],))
        assert submitter not in cur.fetchone()["row"]
    assert not any((store.settings.runs_dir / project).exists() for project in ("PRIV-SUB-A", "PRIV-SUB-B"))
