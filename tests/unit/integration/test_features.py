from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from smvm.artifacts import RunDirectory
from smvm.features.flags import stage_for
from smvm.features.mock import MOCK_STAGES
from smvm.ids import validation_id_for
from smvm.intake.validation import parse_request, validate_idea
from smvm.pipeline.stages import STAGES_BY_NAME, StageContext
from smvm.standin.server import StandIn
from smvm.webhooks.signing import new_secret, signed_headers

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


def test_two_secrets_each_verify() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"status": "RUNNING"}'
    headers = signed_headers(f"{new},{old}", "msg_abc", int(time.time()), body, None)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"status": "RUNNING"}


def test_standin_acknowledges_verified_and_refuses_forged() -> None:
    secret = new_secret()
    standin = StandIn(secret, fail=1)
    body = b'{"run_id": "R"}'
    headers = signed_headers(secret, "msg_1", int(time.time()), body, None)
    assert standin.handle("POST", "/validation/update", headers, body)[0] == 503  # told to fail once
    assert standin.handle("POST", "/validation/update", headers, body) == (200, {"status": "acknowledged"})
    status, answer = standin.handle("POST", "/api/v1/projects/P/validation-results", headers, body)
    assert status == 200 and answer["reference_id"].startswith("ref_")
    forged = signed_headers(new_secret(), "msg_1", int(time.time()), body, None)
    assert standin.handle("POST", "/validation/alert", forged, body)[0] == 401
