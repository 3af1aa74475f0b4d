from __future__ import annotations

import pytest

from smvm.runs.responses import finalization_view, gate_view

pytestmark = pytest.mark.unit

RUN = {"run_id": "RUN-1", "validation_id": "VAL-1-001", "estimated_completion": None, "error": None}


def _decision(recommendation: str) -> dict:
    return {"recommendation": recommendation, "confidence": 0.8, "critical_success_factors": ["CAC under $90"],
            "key_factors": [{"factor": "market_opportunity", "score": 0.9, "evidence": "big"}], "next_steps": ["x"]}


@pytest.mark.parametrize(("recommendation", "can_progress", "word", "gate"), [
    ("GO", True, "go", "proceed"), ("PIVOT", True, "pivot", "proceed"), ("KILL", False, "no_go", "reject"),
])
def test_gate_for_decisions(recommendation, can_progress, word, gate) -> None:
    view = gate_view({**RUN, "status": "COMPLETED"}, _decision(recommendation))
    assert (view["can_progress"], view["passed"], view["go_recommendation"], view["gate_decision"]) == (
        can_progress, can_progress, word, gate)
    assert view["requirements"] == ([] if recommendation == "GO" else ["CAC under $90"])
    assert (view["block_reason"] is None) == can_progress


@pytest.mark.parametrize(("status", "gate", "reason"), [
    ("RUNNING", "hold", "in progress"), ("INITIATED", "hold", "in progress"), ("FAILED", "reject", "failed"),
    ("INCOMPLETE", "hold", "timed out"), ("CANCELLED", "reject", "cancelled"),
])
def test_gate_blocks_without_a_decision(status, gate, reason) -> None:
    view = gate_view({**RUN, "status": status}, None)
    assert view["can_progress"] is False and view["gate_decision"] == gate and reason in view["block_reason"]


@pytest.mark.parametrize(("finalization", "tractionbuild", "disagreement"), [
    ({"decision": "no_go", "notes": None, "agrees": False}, "no_go", True),
    ({"decision": "pivot", "notes": None, "agrees": True}, "pivot", False),
    ({"decision": None, "notes": "adopt SMVM's call", "agrees": None}, None, False),
])
def test_t32_answers_smvms_recommendation_beside_the_clients(finalization, tractionbuild, disagreement) -> None:
    run = {**RUN, "status": "FINALIZED", "recommendation": "PIVOT", "finalization": finalization}
    for key in ("project_id", "current_stage", "confidence", "created_at", "updated_at", "completed_at", "validated_at",
                "finalized_at", "correlation_id"):
        run.setdefault(key, None)
    view = finalization_view(run, [])
    assert view["final_recommendation"] == "pivot" and view["smvm_recommendation"] == "PIVOT"
    assert view["recommendation_source"] == "prior"
    assert view["tractionbuild_decision"] == tractionbuild and view["disagreement"] is disagreement


def test_t32_reads_the_posterior_once_the_update_is_ready() -> None:
    run = {**RUN, "status": "COMPLETED", "recommendation": "PIVOT", "finalization": None,
           "posterior": {"recommendation": "GO", "confidence": 0.7}}
    for key in ("project_id", "current_stage", "confidence", "created_at", "updated_at", "completed_at", "validated_at",
                "finalized_at", "correlation_id"):
        run.setdefault(key, None)
    view = finalization_view(run, [])
    assert (view["final_recommendation"], view["smvm_recommendation"], view["recommendation_source"]) == (
        "go", "GO", "posterior")
