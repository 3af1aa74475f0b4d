from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from smvm.artifacts import RunDirectory
from smvm.features.flags import stage_for
from smvm.features.mock import MOCK_STAGES
from smvm.ids import validation_id_for
from smvm.intake.validation import parse_request, validate_idea
from smvm.pipeline.stages import STAGES_BY_NAME, StageContext

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "idea.json"


def test_mock_stages_are_fast_small_and_say_mock(tmp_path) -> None:
    request = {**parse_request(json.loads(EXAMPLE.read_text())), "run_id": "RUN-MOCK-1", "mode": "mock"}
    request["configuration"] = {**request["configuration"], "seed": 7}
    run = {"run_id": "RUN-MOCK-1", "validation_id": validation_id_for("RUN-MOCK-1"), "project_id": request["project_id"],
           "request": request, "validation": validate_idea(request)}
    run_dir = RunDirectory(tmp_path, request["project_id"], "RUN-MOCK-1")
    started = time.perf_counter()
    for stage in MOCK_STAGES:
        summary = stage_for(run, stage.name).execute(StageContext(run=run, request=request, run_dir=run_dir))
        assert summary["mode"] == "mock"
    assert time.perf_counter() - started < 1.0
    for stage in MOCK_STAGES:
        for relative in stage.produces:
            if relative.endswith(".json"):
                assert run_dir.read_json(relative)["mode"] == "mock", relative
    assert run_dir.read_bytes("reports/analysis_report.pdf").startswith(b"%PDF-")
    assert run_dir.read_json("outputs/decision.output.json")["recommendation"] in ("GO", "PIVOT", "KILL")


def test_live_runs_use_the_real_stages() -> None:
    assert stage_for({"request": {}}, "market_simulation") is STAGES_BY_NAME["market_simulation"]
