"""A POSTed run flows through all seven stages on real workers and ends COMPLETED with valid artifacts."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import requests

from smvm.pipeline.stages import STAGE_NAMES

pytestmark = pytest.mark.integration

LEGACY_BODY = {
    "project_id": "PROJ-2024-001",
    "idea": {
        "description": "AI-powered personal finance management platform that categorises spending and coaches "
        "millennials towards savings goals with weekly nudges",
        "domain": "finance",
        "urgency": "high",
        "submitter": "planner@tractionbuild.example",
        "metadata": {
            "estimated_market_size": 5000000,
            "target_customers": "millennials",
            "competitive_advantage": "AI-driven insights",
        },
    },
    "callback_url": None,
    "correlation_id": "CORR-20241201-143052-001",
}

TRACTIONBUILD_BODY = {
    "project_id": "TB-PROJ-7",
    "name": "ShiftSwap",
    "description": "A mobile marketplace where hourly retail workers swap shifts with verified colleagues, "
    "approved by store managers in one tap",
    "hypothesis": "Store managers will pay per location to cut no-shows by a third",
    "target_avatars": ["retail store managers", "hourly retail staff"],
}


def _leaves(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{prefix}.{key}" if prefix else str(key))]
    return [(prefix, value)]


def _run_files(run_dir: Path) -> set[str]:
    return {str(path.relative_to(run_dir)) for path in run_dir.rglob("*") if path.is_file()}


def test_canonical_run_completes_with_every_artifact(stack, example_body, store) -> None:
    response = stack.post_run(example_body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    for key in ("run_id", "validation_id", "status", "estimated_completion", "run_directory", "webhook_urls",
                "validation_results", "metadata"):
        assert key in accepted
    assert accepted["status"] == "INITIATED"
    assert accepted["validation_id"] == "VAL-" + accepted["run_id"].removeprefix("RUN-") + "-001"

    final = stack.wait_for_status(accepted["run_id"])
    assert final["progress"] == 1.0
    assert [stage["name"] for stage in final["stages"]] == list(STAGE_NAMES)
    assert all(stage["status"] == "SUCCEEDED" for stage in final["stages"])
    assert final["recommendation"] in {"GO", "PIVOT", "KILL"}
    # Every stage summary /status shows is computed: a null means a stage read a key its artifact does not have.
    nulls = [f"{stage['name']}.{key}" for stage in final["stages"] for key, value in _leaves(stage["result"]) if value is None]
    assert not nulls, f"null stage summary fields: {nulls}"
    assert isinstance(final["stages"][STAGE_NAMES.index("market_simulation")]["result"]["p_npv_positive"], float)

    run_dir = Path(accepted["run_directory"])
    assert run_dir == stack.settings.runs_dir / example_body["project_id"] / "validation" / accepted["run_id"]
    expected = {
        "idea.input.json", "validation_result.json", "inputs/market_data.json", "outputs/personas.output.json",
        "outputs/competitors.output.json", "outputs/simulation.config.json", "outputs/simulation.result.json",
        "outputs/decision.output.json", "reports/validation_report.md", "reports/analysis_report.pdf",
        "validation_summary.json", "meta.json", "events.jsonl",
    }
    assert expected <= _run_files(run_dir)
    for name in expected - {"events.jsonl"}:
        if name.endswith(".json"):
            json.loads((run_dir / name).read_text())
    assert (run_dir / "reports/analysis_report.pdf").read_bytes().startswith(b"%PDF")

    # Every recorded sha256 matches the bytes on disk.
    recorded = store.artifacts(accepted["run_id"])
    assert set(recorded) == expected - {"meta.json", "events.jsonl"}
    for path, sha in recorded.items():
        assert hashlib.sha256((run_dir / path).read_bytes()).hexdigest() == sha

    # Stages started and completed in pipeline order, in the events table and in events.jsonl alike.
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    started = [e["stage"] for e in events if e["kind"] == "STAGE_STARTED"]
    completed = [e["stage"] for e in events if e["kind"] == "STAGE_COMPLETED"]
    assert started == list(STAGE_NAMES) and completed == list(STAGE_NAMES)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "RUN_INITIATED" and kinds[-1] == "RUN_COMPLETED" and "DECISION_READY" in kinds
    with store.db.transaction() as cur:
        cur.execute("SELECT kind, stage FROM events WHERE run_id = %s ORDER BY id", (accepted["run_id"],))
        assert [(row["kind"], row["stage"]) for row in cur.fetchall()] == [(e["kind"], e["stage"]) for e in events]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "COMPLETED" and meta["seed"] == accepted["metadata"]["seed"]


@pytest.mark.parametrize("body", [LEGACY_BODY, TRACTIONBUILD_BODY], ids=["legacy", "tractionbuild"])
def test_other_request_shapes_complete(stack, body) -> None:
    response = stack.post_run(body)
    assert response.status_code == 202, response.text
    final = stack.wait_for_status(response.json()["run_id"])
    assert final["recommendation"] in {"GO", "PIVOT", "KILL"}
    idea = json.loads((Path(response.json()["run_directory"]) / "idea.input.json").read_text())
    assert idea["metadata"]["request_shape"] == ("legacy" if "idea" in body else "tractionbuild")


def test_same_idea_and_seed_give_byte_identical_simulation(stack, example_body) -> None:
    body = copy.deepcopy(example_body)
    body["configuration"] = {**body.get("configuration", {}), "seed": 424242}
    first = stack.post_run(body).json()
    second = stack.post_run(body).json()
    assert first["run_id"] != second["run_id"]
    for accepted in (first, second):
        stack.wait_for_status(accepted["run_id"])
    result = "outputs/simulation.result.json"
    assert (Path(first["run_directory"]) / result).read_bytes() == (Path(second["run_directory"]) / result).read_bytes()
    config = json.loads((Path(first["run_directory"]) / "outputs/simulation.config.json").read_text())
    assert config["seed"] == 424242


def test_status_reports_each_stage_in_order(stack, example_body) -> None:
    accepted = stack.post_run(example_body).json()
    seen: list[str] = []

    def observe() -> bool:
        body = requests.get(stack.api(f"/validation/{accepted['validation_id']}/status"), timeout=5).json()
        if body["current_stage"] and (not seen or seen[-1] != body["current_stage"]):
            seen.append(body["current_stage"])
        return body["status"] == "COMPLETED"

    from tests.integration.harness import wait_until

    wait_until(observe, timeout=90, interval=0.01, what="completion")
    # Polling may miss fast stages, but what it saw must be in pipeline order.
    assert seen == sorted(seen, key=STAGE_NAMES.index)
    assert len(seen) >= 1


def test_resubmitting_a_run_id_replays_or_conflicts(stack, example_body) -> None:
    body = {**example_body, "run_id": "RUN-client-chosen-0001"}
    first = stack.post_run(body)
    again = stack.post_run(body)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    changed = copy.deepcopy(body)
    changed["business_idea"]["title"] = "Something else entirely"
    conflict = stack.post_run(changed)
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "RUN_CONFLICT"
    stack.wait_for_status("RUN-client-chosen-0001")


def _held_run(store, body: dict) -> dict:
    """A run recorded like a POST would record it but never enqueued, so it stays INITIATED for as long as needed."""
    from smvm.intake.validation import parse_request

    run, created = store.create_run(parse_request(body))
    assert created
    return run


def test_a_run_in_flight_holds_the_gate_and_refuses_completion(stack, store, example_body) -> None:
    run_id = _held_run(store, {**example_body, "project_id": "PROJ-held"})["run_id"]
    gate = requests.get(stack.api(f"/validation/{run_id}/gate"), timeout=5).json()
    assert (gate["status"], gate["can_progress"], gate["gate_decision"]) == ("INITIATED", False, "hold")
    assert gate["block_reason"] == "SMVM validation in progress"
    assert requests.get(stack.api(f"/validation/{run_id}/results"), timeout=5).status_code == 202
    for method, action in (("put", "complete"), ("post", "finalize")):
        refused = requests.request(method, stack.api(f"/validation/{run_id}/{action}"), json={}, timeout=5)
        assert refused.status_code == 409 and refused.json()["error"] == "INVALID_TRANSITION", action


def test_lifecycle_results_gate_complete_finalize(stack, example_body) -> None:
    accepted = stack.post_run(example_body).json()
    run_id = accepted["run_id"]
    stack.wait_for_status(run_id, ("COMPLETED",))
    # Behind a proxy the Host header is not SMVM's public URL: every URL handed out uses SMVM_PUBLIC_BASE_URL.
    results = requests.get(stack.api(f"/validation/{run_id}/results"), headers={"Host": "internal-lb:8080"}, timeout=10)
    assert results.status_code == 200
    body = results.json()
    assert body["decision"]["recommendation"] in {"GO", "PIVOT", "KILL"}
    assert "simulation.result.json" in body["artifacts"]
    public = stack.env["SMVM_PUBLIC_BASE_URL"]
    assert all(item["url"].startswith(f"{public}/api/v1/validation/{run_id}/artifacts/") for item in body["artifacts"].values())
    assert all(url.startswith(f"{public}/api/v1/") for url in accepted["webhook_urls"].values())

    gate = requests.get(stack.api(f"/validation/{accepted['validation_id']}/gate"), timeout=5).json()
    assert gate["recommendation"] == body["decision"]["recommendation"]
    assert gate["can_progress"] == (gate["recommendation"] in ("GO", "PIVOT")) == gate["passed"]
    assert gate["go_recommendation"] == {"GO": "go", "PIVOT": "pivot", "KILL": "no_go"}[gate["recommendation"]]
    assert {"key_factors", "next_steps", "requirements", "block_reason", "gate_decision", "confidence"} <= set(gate)

    pdf = requests.get(stack.api(f"/validation/{run_id}/artifacts/analysis_report.pdf"), timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert requests.get(stack.api(f"/validation/{run_id}/artifacts/..%2Fmeta.json"), timeout=5).status_code == 404

    completion = {"completed_by": "tb-service", "observed_metrics": {"signups": 120}}
    done = requests.put(stack.api(f"/validation/{run_id}/complete"), json=completion, timeout=5)
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED"
    assert requests.put(stack.api(f"/validation/{run_id}/complete"), json=completion, timeout=5).status_code == 200
    assert requests.put(stack.api(f"/validation/{run_id}/complete"), json={"notes": "other"}, timeout=5).status_code == 409

    final = requests.post(stack.api(f"/validation/{run_id}/finalize"), json={"decision": "go"}, timeout=5)
    assert final.status_code == 200 and final.json()["status"] == "FINALIZED"
    # Funnel counts alone start no update: T32 answers the T0 decision, with TractionBuild's "go" recorded beside it.
    words = {"GO": "go", "PIVOT": "pivot", "KILL": "no_go"}
    smvm = body["decision"]["recommendation"]
    assert (final.json()["smvm_recommendation"], final.json()["recommendation_source"]) == (smvm, "prior")
    assert final.json()["final_recommendation"] == words[smvm] and final.json()["tractionbuild_decision"] == "go"
    assert final.json()["disagreement"] is (smvm != "GO")
    cancel = requests.post(stack.api(f"/validation/{run_id}/cancel"), json={}, timeout=5)
    assert cancel.status_code == 409 and cancel.json()["message"] == "The run is already finalized; it can no longer be cancelled."
    again = requests.post(stack.api(f"/validation/{run_id}/finalize"), json={"decision": "no_go"}, timeout=5)
    assert again.status_code == 409 and again.json()["message"] == "The run is already finalized."


def test_cancel_stops_a_run_and_list_filters(stack, store, example_body) -> None:
    run = _held_run(store, {**example_body, "project_id": "PROJ-cancel"})
    cancelled = requests.post(stack.api(f"/validation/{run['validation_id']}/cancel"), json={"reason": "duplicate idea"},
                              timeout=5)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "CANCELLED" and set(body["stage_results"].values()) == {"cancelled"}
    assert requests.post(stack.api(f"/validation/{run['run_id']}/cancel"), json={}, timeout=5).status_code == 409
    gate = requests.get(stack.api(f"/validation/{run['run_id']}/gate"), timeout=5).json()
    assert gate["gate_decision"] == "reject" and gate["block_reason"] == "SMVM validation cancelled"
    listing = requests.get(stack.api("/validation/runs"), params={"project_id": "PROJ-cancel", "limit": 5}, timeout=5).json()
    assert listing["total"] == 1 and listing["runs"][0]["run_id"] == run["run_id"]
    assert listing["runs"][0]["status"] == "CANCELLED"
    # A bad query string is named by its parameter, not called a payload.
    unknown = requests.get(stack.api("/validation/runs"), params={"bogus": "1"}, timeout=5)
    assert unknown.status_code == 400 and unknown.json()["message"] == "Unknown query parameter: bogus."
    bad = requests.get(stack.api("/validation/runs"), params={"status": "NOPE", "limit": "0"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["message"] == "Invalid query parameter: limit, status."
    assert set(bad.json()["details"]) == {"limit", "status"}
    # TRACE (or any undeclared method) is 405 with the Allow header RFC 9110 requires.
    trace = requests.request("TRACE", stack.api("/validation/runs"), timeout=5)
    assert trace.status_code == 405 and set(trace.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert trace.json()["error"] == "METHOD_NOT_ALLOWED"


def test_unknown_ids_are_404_with_envelope(stack) -> None:
    for path in ("/validation/RUN-nope/status", "/validation/VAL-nope-001/results", "/validation/RUN-nope/gate"):
        response = requests.get(stack.api(path), timeout=5)
        assert response.status_code == 404
        body = response.json()
        assert body["error"] == "NOT_FOUND" and body["correlation_id"]


def test_duplicate_stage_message_changes_nothing(stack, example_body, store) -> None:
    """A redelivered or duplicated stage message is fenced out by the stage row."""
    from smvm.config import Settings
    from workers.app import create_celery

    accepted = stack.post_run(example_body).json()
    run_id = accepted["run_id"]
    stack.wait_for_status(run_id)
    with store.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM events WHERE run_id = %s", (run_id,))
        before = cur.fetchone()["n"]
    app = create_celery(Settings(env="test", broker_url=stack.settings.broker_url, database_url=stack.settings.database_url))
    for stage in ("market_simulation", "decision_analysis"):
        app.send_task(f"smvm.stage.{stage}", args=(run_id,), queue="smvm.simulation" if stage == "market_simulation" else "smvm.pipeline")
    # Then a marker run behind them on the same queues: once it completes, the duplicates were consumed.
    marker = stack.post_run(example_body).json()
    stack.wait_for_status(marker["run_id"])
    with store.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM events WHERE run_id = %s", (run_id,))
        assert cur.fetchone()["n"] == before
        cur.execute("SELECT max(attempt) AS a FROM stages WHERE run_id = %s", (run_id,))
        assert cur.fetchone()["a"] == 1
