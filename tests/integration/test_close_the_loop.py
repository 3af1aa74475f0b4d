"""Closing the loop through the real stack: PUT complete with observations starts the posterior update on the
workers, TractionBuild hears of the posterior decision once, and the gate, the results, finalize, the ledger and
/metrics all answer with it; bad or unusable observations change nothing they should not."""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from smvm.config import Settings
from tests.integration import harness
from tests.integration.receiver import Receiver

pytestmark = pytest.mark.integration

EVAL = Path(__file__).resolve().parents[2] / "examples" / "eval"
#: No evidence at all: the observations are the first facts about demand the model sees.
IDEA = "saas-site_meeting_notes.json"
UPDATE_STAGES = ("posterior_update", "posterior_decision", "posterior_report")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    secret = Settings.from_environ({"SMVM_ENV": "test"}).webhook_secret
    server = Receiver(secret, harness.free_port()).start()  # type: ignore[arg-type]
    yield server
    server.stop()


def _completed_run(stack, receiver: Receiver, tag: str) -> str:
    body = copy.deepcopy(json.loads((EVAL / IDEA).read_text())["request"])
    body["run_id"] = f"RUN-LOOP-{tag}-{uuid.uuid4().hex[:8]}"
    body["project_id"] = "PROJ-LOOP"
    body["configuration"] = {"seed": 7}
    body["metadata"] = {"callback_url": receiver.url}
    accepted = stack.post_run(body)
    assert accepted.status_code == 202, accepted.text
    stack.wait_for_status(body["run_id"], timeout=120)
    return body["run_id"]


def _updates(receiver: Receiver, run_id: str) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.received("/validation/update") if r.json()["run_id"] == run_id]


def _get(stack, path: str) -> dict[str, Any]:
    response = requests.get(stack.api(path), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _strong_observations(stack, run_id: str) -> dict[str, Any]:
    """Far above the T0 forecast: more paying customers and MRR than 97 % of its worlds expected in a month."""
    result = requests.get(stack.api(f"/validation/{run_id}/artifacts/simulation.result.json"), timeout=10).json()
    customers, mrr = result["quantiles"]["obs_customers"], result["quantiles"]["obs_mrr"]
    return {"window_days": 30, "visitors": 5000, "signups": 400, "paying_customers": int(customers[96]) + 2,
            "mrr": round(mrr[96] * 1.1, 2), "churned_customers": 0}


def test_observations_update_the_decision_everywhere_once(stack, receiver) -> None:
    run_id = _completed_run(stack, receiver, "UPD")
    prior = _get(stack, f"/validation/{run_id}/gate")
    assert prior["source"] == "prior"
    observations = _strong_observations(stack, run_id)
    completion = {"completed_by": "tb-service", "observed_metrics": observations}

    put = requests.put(stack.api(f"/validation/{run_id}/complete"), json=completion, timeout=10)
    assert put.status_code == 200, put.text
    assert put.json()["status"] == "COMPLETED" and put.json()["posterior"]["status"] in ("running", "ready")

    ready = harness.wait_until(
        lambda: next((u for u in _updates(receiver, run_id) if u["event"] == "POSTERIOR_READY"), None),
        timeout=90, interval=0.3, what=f"the POSTERIOR_READY update of {run_id}\n{stack.logs()}")
    decision = ready["decision"]
    assert ready["status"] == "DECISION_READY" and ready["run_status"] == "COMPLETED"
    assert decision["source"] == "posterior" and decision["prior_recommendation"] == prior["recommendation"]
    assert abs(sum(decision["verdict_probabilities"].values()) - 1.0) < 1e-3
    assert decision["moved_most"] and decision["moved_most"][0]["observation"] in ("paying_customers", "mrr")
    # The update's stage steps are not news: TractionBuild hears of it once.
    assert not [u for u in _updates(receiver, run_id) if u["current_stage"] in UPDATE_STAGES
                and u["event"].startswith("STAGE_")]

    status = _get(stack, f"/validation/{run_id}/status")
    assert status["status"] == "COMPLETED" and status["progress"] == 1.0
    assert status["posterior"]["status"] == "ready"
    assert status["posterior"]["recommendation"] == decision["recommendation"]
    assert {s["name"]: (s["status"], s["attempt"]) for s in status["stages"] if s["name"] in UPDATE_STAGES} == {
        name: ("SUCCEEDED", 1) for name in UPDATE_STAGES}

    gate = _get(stack, f"/validation/{run_id}/gate")
    assert (gate["source"], gate["recommendation"]) == ("posterior", decision["recommendation"])
    assert gate["gate_decision"] == decision["gate_decision"] == ready["gate_decision"]
    results = _get(stack, f"/validation/{run_id}/results")
    assert results["final_recommendation"]["source"] == "posterior"
    assert results["final_recommendation"]["recommendation"] == decision["recommendation"]
    assert results["posterior_decision"]["recommendation"] == decision["recommendation"]
    assert results["decision"]["recommendation"] == prior["recommendation"], "the T0 decision is kept beside it"
    assert results["posterior_decision"]["observations"] == observations
    assert results["gate_decision"] == gate["gate_decision"]

    # A repeat of the same observations is a no-op; different ones conflict.
    again = requests.put(stack.api(f"/validation/{run_id}/complete"), json=completion, timeout=10)
    assert again.status_code == 200
    other = requests.put(stack.api(f"/validation/{run_id}/complete"),
                         json={"observed_metrics": {**observations, "paying_customers": 1}}, timeout=10)
    assert other.status_code == 409, other.text

    # T32: SMVM's final recommendation is the posterior one; TractionBuild's decision sits beside it.
    words = {"GO": "go", "PIVOT": "pivot", "KILL": "no_go"}
    disagreeing = next(word for verdict, word in words.items() if verdict != decision["recommendation"])
    final = requests.post(stack.api(f"/validation/{run_id}/finalize"), json={"decision": disagreeing}, timeout=10)
    assert final.status_code == 200, final.text
    body = final.json()
    assert (body["smvm_recommendation"], body["recommendation_source"]) == (decision["recommendation"], "posterior")
    assert body["final_recommendation"] == words[decision["recommendation"]]
    assert body["tractionbuild_decision"] == disagreeing and body["disagreement"] is True
    assert body["finalization"]["smvm"]["source"] == "posterior"
    assert _get(stack, f"/validation/{run_id}/gate")["recommendation"] == decision["recommendation"]
    assert _updates(receiver, run_id)[-1]["gate_decision"] == gate["gate_decision"]
    assert [u["event"] for u in _updates(receiver, run_id)].count("POSTERIOR_READY") == 1

    # The ledger scored both observations the model predicts; the CLI and /metrics show it.
    ledger = subprocess.run([str(harness.BIN / "smvm"), "calibration", "--json"], env=stack.env, capture_output=True,
                            text=True, timeout=60, check=True)
    summary = json.loads(ledger.stdout)
    assert summary["overall"]["count"] >= 3  # paying_customers, churned_customers, mrr of this run at least
    assert summary["by_metric"]["paying_customers"]["count"] >= 1
    metrics = requests.get(f"{stack.base_url}/metrics", timeout=10).text
    assert "smvm_calibration_observations " in metrics and 'smvm_calibration_coverage_ratio{interval="0.8"}' in metrics

    # The reports were rewritten with the update; the next new run's report states the ledger in one line.
    report = requests.get(stack.api(f"/validation/{run_id}/artifacts/validation_report.md"), timeout=10).text
    assert "What the first 30 days changed" in report
    fresh = _completed_run(stack, receiver, "NEXT")
    fresh_report = requests.get(stack.api(f"/validation/{fresh}/artifacts/validation_report.md"), timeout=10).text
    assert "Calibration record for saas ideas: " in fresh_report and "observations scored so far" in fresh_report


def test_bad_or_unusable_observations_change_nothing_they_should_not(stack, receiver) -> None:
    run_id = _completed_run(stack, receiver, "BAD")
    contradictions = {"observed_metrics": {"signups": 5, "paying_customers": 9, "churned_customers": 12}}
    refused = requests.put(stack.api(f"/validation/{run_id}/complete"), json=contradictions, timeout=10)
    assert refused.status_code == 400, refused.text
    details = refused.json()["details"]["observed_metrics"]
    assert set(details) == {"paying_customers", "churned_customers"}
    unknown = requests.put(stack.api(f"/validation/{run_id}/complete"),
                           json={"observed_metrics": {"conversion_rate": 0.2}}, timeout=10)
    assert unknown.status_code == 400 and "conversion_rate" in unknown.json()["details"]["observed_metrics"]
    assert _get(stack, f"/validation/{run_id}/status")["validated_at"] is None, "a refused PUT records nothing"

    # Funnel counts alone are kept with the run but predict nothing the model simulates: no update starts.
    kept = requests.put(stack.api(f"/validation/{run_id}/complete"),
                        json={"observed_metrics": {"visitors": 900, "signups": 40}}, timeout=10)
    assert kept.status_code == 200 and kept.json()["posterior"] is None
    assert kept.json()["completion"]["observed_metrics"] == {"window_days": 30, "visitors": 900, "signups": 40}
    assert not [s for s in _get(stack, f"/validation/{run_id}/status")["stages"] if s["name"] in UPDATE_STAGES]
    final = requests.post(stack.api(f"/validation/{run_id}/finalize"), json={}, timeout=10).json()
    assert final["recommendation_source"] == "prior" and final["tractionbuild_decision"] is None
    assert final["disagreement"] is False
