from __future__ import annotations

import datetime as dt

import pytest

from smvm.callbacks.payloads import (
    ALERT_SEVERITY,
    alerts_for_event,
    build_alert_v1,
    build_sync_v1,
    build_update_v1,
    encode,
    is_news,
)
from smvm.callbacks.schemas import ValidationAlertSchema, ValidationUpdateSchema

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RUN = {
    "run_id": "RUN-1", "validation_id": "VAL-1-001", "project_id": "P1", "correlation_id": "c-1",
    "status": "RUNNING", "current_stage": "decision_analysis", "created_at": T0,
    "estimated_completion": T0 + dt.timedelta(seconds=100), "deadline_at": T0 + dt.timedelta(hours=1),
    "request": {"configuration": {"simulation_iterations": 1000}}, "validation": {},
}
STAGES = [{"name": "idea_validation", "status": "SUCCEEDED", "attempt": 1, "duration_ms": 5, "result": {"x": 1}},
          {"name": "data_ingestion", "status": "RUNNING", "attempt": 1, "duration_ms": None, "result": None}]


def _event(kind: str, stage: str | None = None, data: dict | None = None) -> dict:
    return {"id": 7, "at": "2026-01-01T00:00:05Z", "kind": kind, "stage": stage, "data": data or {}}


def test_update_has_the_seed_fields() -> None:
    payload = build_update_v1(RUN, _event("STAGE_STARTED", "data_ingestion"), STAGES)
    assert payload["status"] == "running" and payload["progress"] == round(1 / 7, 4)
    assert payload["current_stage"] == "data_ingestion" and payload["step_name"]
    assert payload["stage_results"] == {"idea_validation": {"status": "succeeded", "attempt": 1, "duration_ms": 5,
                                                            "summary": {"x": 1}}}
    assert payload["estimated_completion"] == "2026-01-01T00:01:40Z" and payload["timestamp"] == "2026-01-01T00:00:05Z"
    assert "decision" not in payload
    assert payload["sequence"] == 7, "the event id, so receivers can order updates"


def test_decision_ready_carries_the_decision() -> None:
    decision = {"recommendation": "GO", "confidence": 0.8, "critical_success_factors": ["a"], "score": 71}
    payload = build_update_v1(RUN, _event("DECISION_READY", "decision_analysis"), STAGES, decision)
    assert payload["status"] == "DECISION_READY"
    assert payload["decision"]["critical_success_factors"] == ["a"] and payload["decision"]["recommendation"] == "GO"


def _alerts(event: dict, decision: dict | None = None, now: dt.datetime = T0) -> list[str]:
    return [a[0] for a in alerts_for_event(RUN, event, decision=decision, now=now, quality_threshold=0.5, slip_factor=1.5)]


@pytest.mark.parametrize(
    "event, decision, now, expected",
    [
        (_event("STAGE_COMPLETED", "data_ingestion", {"summary": {"data_quality": 0.3}}), None, T0, ["quality_warning"]),
        (_event("STAGE_COMPLETED", "data_ingestion", {"summary": {"data_quality": 0.8}}), None, T0, []),
        (_event("DECISION_READY", "decision_analysis"), {"recommendation": "KILL"}, T0, ["risk_escalation"]),
        (_event("DECISION_READY", "decision_analysis"),
         {"recommendation": "GO", "risk_assessment": {"market": {"level": "high"}}}, T0, ["risk_escalation"]),
        (_event("DECISION_READY", "decision_analysis"), {"recommendation": "GO"}, T0, []),
        (_event("RUN_INCOMPLETE"), None, T0, ["timeline_slip"]),
        (_event("STAGE_COMPLETED", "persona_synthesis"), None, T0 + dt.timedelta(seconds=151), ["timeline_slip"]),
        (_event("STAGE_COMPLETED", "persona_synthesis"), None, T0 + dt.timedelta(seconds=149), []),
        (_event("STAGE_COMPLETED", "market_simulation", {"summary": {"paths": 500}}), None, T0, ["resource_constraint"]),
    ],
)
def test_alert_triggers(event: dict, decision: dict | None, now: dt.datetime, expected: list[str]) -> None:
    assert _alerts(event, decision, now) == expected


def test_sync_payload_has_every_seed_file_and_encodes_stably() -> None:
    payload = build_sync_v1(RUN, {"decision_output": {"recommendation": "GO"}}, "2026-02-01T02:00:00Z")
    assert set(payload["files"]) == {"decision_output", "validation_report", "simulation_results", "personas_output",
                                     "competitors_output", "run_metadata", "events_log", "posterior_decision"}
    assert payload["project_id"] == "P1" and payload["run_id"] == "RUN-1"
    assert encode(payload) == encode(dict(reversed(list(payload.items()))))


@pytest.mark.parametrize("kind", ["RUN_INITIATED", "RUN_STARTED", "STAGE_STARTED", "STAGE_COMPLETED", "DECISION_READY",
                                  "RUN_COMPLETED", "RUN_FAILED", "POSTERIOR_READY", "POSTERIOR_FAILED"])
def test_every_update_matches_its_documented_schema(kind: str) -> None:
    decision = {"recommendation": "PIVOT", "confidence": 0.7, "score": 61.0, "critical_success_factors": ["a"],
                "risk_assessment": {"overall": "medium"}, "key_factors": [{"factor": "risk"}]}
    run = {**RUN, "error": {"message": "boom"}} if kind == "RUN_FAILED" else RUN
    payload = build_update_v1(run, _event(kind, "decision_analysis"), STAGES, decision) | {"mode": "mock"}
    schema = ValidationUpdateSchema()
    assert schema.validate(payload) == {}
    assert set(payload) <= set(schema.fields), f"undocumented: {set(payload) - set(schema.fields)}"
    for nested, fields in (("decision", schema.fields["decision"].schema.fields),
                           ("posterior", schema.fields["posterior"].schema.fields),
                           ("stage_results", schema.fields["stage_results"].value_field.schema.fields)):
        values = list(payload[nested].values()) if nested == "stage_results" else [payload.get(nested)]
        assert all(set(value) <= set(fields) for value in values if value), nested


def test_every_alert_matches_its_documented_schema() -> None:
    for alert_type in ALERT_SEVERITY:
        payload = build_alert_v1(RUN, alert_type, "message", {"x": 1}, "2026-01-01T00:00:05Z")
        assert ValidationAlertSchema().validate(payload) == {}, alert_type
        assert set(payload) <= set(ValidationAlertSchema().fields)


def test_the_update_track_is_heard_of_once_not_stage_by_stage() -> None:
    assert not is_news(_event("STAGE_STARTED", "posterior_update"))
    assert not is_news(_event("STAGE_COMPLETED", "posterior_report"))
    assert not is_news(_event("STAGE_FAILED", "posterior_decision"))
    assert is_news(_event("STAGE_COMPLETED", "market_simulation"))
    assert is_news(_event("POSTERIOR_READY", "posterior_report"))
    assert is_news(_event("POSTERIOR_FAILED", "posterior_update"))
    assert not is_news(_event("STAGE_RETRY", "market_simulation"))


def test_the_posterior_decision_goes_out_as_the_decision_the_gate_now_reads() -> None:
    run = {**RUN, "status": "COMPLETED", "recommendation": "PIVOT",
           "posterior": {"recommendation": "KILL", "confidence": 0.62}}
    posterior = {"recommendation": "KILL", "confidence": 0.62, "score": 30.0, "critical_success_factors": ["a"],
                 "verdict_probabilities": {"GO": 0.08, "PIVOT": 0.3, "KILL": 0.62}, "why": ["fewer customers"],
                 "moved_most": [{"observation": "paying_customers"}]}
    data = {"recommendation": "KILL", "prior_recommendation": "PIVOT", "changed": True}
    payload = build_update_v1(run, _event("POSTERIOR_READY", "posterior_report", data), STAGES, posterior)
    assert payload["status"] == "DECISION_READY" and payload["event"] == "POSTERIOR_READY"
    assert payload["decision"]["source"] == "posterior" and payload["decision"]["prior_recommendation"] == "PIVOT"
    assert payload["decision"]["recommendation"] == "KILL" and payload["decision"]["gate_decision"] == "reject"
    assert payload["gate_decision"] == "reject", "the run's gate follows the posterior verdict"
    assert payload["progress"] == 1.0


def test_a_late_update_stage_never_reports_a_timeline_slip() -> None:
    weeks_later = T0 + dt.timedelta(days=30)
    assert _alerts(_event("STAGE_COMPLETED", "posterior_update"), None, weeks_later) == []
    assert _alerts(_event("STAGE_COMPLETED", "persona_synthesis"), None, weeks_later) == ["timeline_slip"]
