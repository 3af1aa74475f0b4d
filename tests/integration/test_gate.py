"""One gate answer everywhere: GET /gate, the results (and the decision and summary in them), the summary file, the
report and the callbacks agree for GO, PIVOT, KILL, INCOMPLETE, FAILED and CANCELLED runs (smvm/gate.py)."""

from __future__ import annotations

import concurrent.futures
import copy
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from smvm.config import Settings
from smvm.intake.validation import parse_request
from smvm.pipeline.stages import STAGE_NAMES
from smvm.runs.execution import execute_stage
from tests.integration import harness
from tests.integration.receiver import Receiver

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Ideas expected to reach each verdict, in order of preference (each evaluation idea states the verdict an analyst
#: expects). A later candidate is tried only if the decision engine moved an earlier one.
CANDIDATES = {
    "GO": ["eval/saas-month_end_close.json", "eval/technology-feature_flags.json", "eval/finance-bank_reconciliation.json"],
    "PIVOT": ["eval/saas-site_meeting_notes.json", "eval/technology-postgres_backups.json",
              "eval/retail-organic_baby_food.json", "idea.json"],
    "KILL": ["eval/saas-crowded_crm.json", "eval/other-laundry_negative_margin.json", "eval/other-curling_clubs.json"],
}
EXPECTED_GATE = {"GO": "proceed", "PIVOT": "proceed", "KILL": "reject"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    # The stack's processes run with SMVM_ENV=test, which signs with the development secret.
    secret = Settings.from_environ({"SMVM_ENV": "test"}).webhook_secret
    server = Receiver(secret, harness.free_port()).start()  # type: ignore[arg-type]
    yield server
    server.stop()


def _body(relative: str, receiver: Receiver) -> dict[str, Any]:
    example = json.loads((EXAMPLES / relative).read_text())
    body = copy.deepcopy(example.get("request", example))  # an evaluation idea wraps its request
    body["run_id"] = f"RUN-GATE-{uuid.uuid4().hex[:10]}"
    body["project_id"] = "PROJ-GATE"
    body.setdefault("configuration", {})["seed"] = 7
    body.setdefault("metadata", {})["callback_url"] = receiver.url
    return body


def _updates(receiver: Receiver, run_id: str) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.received("/validation/update") if r.json()["run_id"] == run_id]


def _final_update(receiver: Receiver, run_id: str, status: str) -> dict[str, Any]:
    def arrived() -> dict[str, Any] | None:
        return next((u for u in _updates(receiver, run_id) if u["status"] == status), None)

    return harness.wait_until(arrived, timeout=40, interval=0.3, what=f"the {status} update of {run_id}")


def _surfaces(stack, run_id: str) -> dict[str, Any]:
    gate = requests.get(stack.api(f"/validation/{run_id}/gate"), timeout=10).json()
    results = requests.get(stack.api(f"/validation/{run_id}/results"), timeout=10)
    assert results.status_code == 200, results.text
    return {"gate": gate, "results": results.json()}


def _complete_one(stack, receiver: Receiver, relative: str) -> tuple[str, str]:
    body = _body(relative, receiver)
    accepted = stack.post_run(body)
    assert accepted.status_code == 202, accepted.text
    final = stack.wait_for_status(body["run_id"], timeout=120)
    return body["run_id"], final["recommendation"]


@pytest.fixture(scope="module")
def decided_runs(stack, receiver) -> dict[str, str]:
    """verdict -> run_id of a COMPLETED run with that verdict."""
    found: dict[str, str] = {}
    remaining = {verdict: list(names) for verdict, names in CANDIDATES.items()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        while batch := [remaining[v].pop(0) for v in remaining if v not in found and remaining[v]]:
            for run_id, verdict in pool.map(lambda relative: _complete_one(stack, receiver, relative), batch):
                found.setdefault(verdict, run_id)
    missing = set(CANDIDATES) - set(found)
    assert not missing, f"no candidate idea reached {sorted(missing)}: update CANDIDATES"
    return found


@pytest.mark.parametrize("verdict", ["GO", "PIVOT", "KILL"])
def test_a_decided_run_gets_one_gate_answer_everywhere(stack, receiver, decided_runs, verdict) -> None:
    run_id = decided_runs[verdict]
    expected = EXPECTED_GATE[verdict]
    seen = _surfaces(stack, run_id)
    gate, results = seen["gate"], seen["results"]
    assert gate["recommendation"] == verdict
    assert gate["gate_decision"] == expected
    assert gate["can_progress"] is gate["passed"] is (expected == "proceed")
    if verdict == "PIVOT":
        assert gate["requirements"] == gate["critical_success_factors"] and gate["requirements"], "PIVOT proceeds with requirements"
    assert results["gate_decision"] == results["decision"]["gate_decision"] == results["summary"]["gate_decision"] == expected

    summary = requests.get(stack.api(f"/validation/{run_id}/artifacts/validation_summary.json"), timeout=10).json()
    assert summary["gate_decision"] == expected
    decision_file = requests.get(stack.api(f"/validation/{run_id}/artifacts/decision.output.json"), timeout=10).json()
    assert decision_file["gate_decision"] == expected
    report = requests.get(stack.api(f"/validation/{run_id}/artifacts/validation_report.md"), timeout=10).text
    said = set(re.findall(r"gate:?\s+\**(proceed|hold|reject)\b", report, flags=re.IGNORECASE))
    assert said == {expected}, f"the report says {said}"

    decision_ready = harness.wait_until(
        lambda: next((u for u in _updates(receiver, run_id) if u["status"] == "DECISION_READY"), None),
        timeout=40, what="DECISION_READY update")
    assert decision_ready["decision"]["recommendation"] == verdict
    assert decision_ready["decision"]["gate_decision"] == expected
    assert _final_update(receiver, run_id, "completed")["gate_decision"] == expected


def test_a_cancelled_run_is_rejected_everywhere(stack, receiver) -> None:
    body = _body("idea.json", receiver)
    assert stack.post_run(body).status_code == 202
    cancelled = requests.post(stack.api(f"/validation/{body['run_id']}/cancel"), json={"reason": "gate test"}, timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    seen = _surfaces(stack, body["run_id"])
    assert seen["gate"]["gate_decision"] == seen["results"]["gate_decision"] == "reject"
    assert seen["gate"]["can_progress"] is False
    assert _final_update(receiver, body["run_id"], "cancelled")["gate_decision"] == "reject"


def test_a_failed_run_is_rejected_everywhere(stack, store, receiver) -> None:
    run, _ = store.create_run(parse_request(_body("idea.json", receiver)))
    # What a stage's permanent error does (smvm.runs.execution): the stage and its run are FAILED.
    _, attempt = store.claim_stage(run["run_id"], STAGE_NAMES[0])
    store.fail_stage(run["run_id"], STAGE_NAMES[0], attempt, "ValueError: a permanent error")
    seen = _surfaces(stack, run["run_id"])
    assert seen["gate"]["status"] == "FAILED"
    assert seen["gate"]["gate_decision"] == seen["results"]["gate_decision"] == "reject"
    assert _final_update(receiver, run["run_id"], "failed")["gate_decision"] == "reject"


def test_an_incomplete_run_holds_everywhere_even_with_a_decision_on_disk(stack, store, receiver) -> None:
    body = _body("idea.json", receiver)
    body["configuration"]["simulation_iterations"] = 100
    run, _ = store.create_run(parse_request(body))
    # Every stage up to the decision, in this process; the report stage never runs: the deadline passes first.
    for stage in STAGE_NAMES[:-1]:
        execute_stage(store, run["run_id"], stage)
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET deadline_at = %s WHERE run_id = %s",
                    (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), run["run_id"]))
    store.expire_overdue_runs()
    seen = _surfaces(stack, run["run_id"])
    assert seen["gate"]["status"] == "INCOMPLETE"
    assert seen["results"]["decision"]["recommendation"] in EXPECTED_GATE, "the decision was written before the timeout"
    assert seen["gate"]["gate_decision"] == seen["results"]["gate_decision"] == "hold"
    assert seen["results"]["decision"]["gate_decision"] == "hold"
    assert _final_update(receiver, run["run_id"], "incomplete")["gate_decision"] == "hold"
