"""Stage summaries (what /status and the callbacks show of each stage) are computed from the artifacts the stages
write: no field is null on a completed run, and the gate reads the one mapping (smvm/gate.py)."""

from __future__ import annotations

import pytest

from smvm import gate
from smvm.intake.validation import parse_request
from smvm.pipeline.runner import run_pipeline
from smvm.pipeline.stages import STAGE_NAMES, simulation_summary

pytestmark = pytest.mark.unit


def _leaves(value, prefix=""):
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{prefix}.{key}" if prefix else key)]
    return [(prefix, value)]


def test_no_stage_summary_field_is_null_on_a_completed_run(example_body, tmp_path) -> None:
    body = {**example_body, "configuration": {**example_body.get("configuration", {}), "simulation_iterations": 100,
                                              "seed": 3}}
    meta, run_dir = run_pipeline(parse_request(body), tmp_path)
    assert list(meta["stages"]) == list(STAGE_NAMES)
    nulls = [f"{name}.{key}" for name, stage in meta["stages"].items() for key, value in _leaves(stage["result"])
             if value is None]
    assert not nulls, nulls
    simulation = meta["stages"]["market_simulation"]["result"]
    result = run_dir.read_json("outputs/simulation.result.json")
    assert simulation["p_npv_positive"] == result["metrics"]["p_npv_positive"]
    assert simulation["paths"] == result["paths"]["used"] and simulation["paths_requested"] == 100
    decision = run_dir.read_json("outputs/decision.output.json")
    assert decision["gate_decision"] == gate.RECOMMENDATION_GATE[decision["recommendation"]]
    assert run_dir.read_json("validation_summary.json")["gate_decision"] == decision["gate_decision"]


def test_simulation_summary_reads_a_flat_result_too() -> None:
    assert simulation_summary({"paths": 100, "p_npv_positive": 0.62}, requested=100) == {
        "paths": 100, "paths_requested": 100, "p_npv_positive": 0.62}


@pytest.mark.parametrize(("status", "recommendation", "expected"), [
    ("COMPLETED", "GO", "proceed"),
    ("COMPLETED", "PIVOT", "proceed"),
    ("COMPLETED", "KILL", "reject"),
    ("FINALIZED", "PIVOT", "proceed"),
    ("RUNNING", "GO", "hold"),
    ("INITIATED", None, "hold"),
    ("INCOMPLETE", "GO", "hold"),
    ("FINALIZED", None, "hold"),
    ("FAILED", None, "reject"),
    ("FAILED", "GO", "reject"),
    ("CANCELLED", None, "reject"),
])
def test_gate_decision_by_status_and_verdict(status, recommendation, expected) -> None:
    assert gate.gate_decision(status, recommendation) == expected
    assert gate.can_progress(gate.gate_decision(status, recommendation)) is (expected == "proceed")
