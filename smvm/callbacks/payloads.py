"""Pure, versioned payload builders for TractionBuild: validation updates, alerts and the T0+30 results sync."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from smvm import gate
from smvm.clock import iso_z
from smvm.lifecycle import ACTIVE_STATUSES, CALLBACK_STATUS
from smvm.pipeline import tracks
from smvm.runs.responses import progress

PAYLOAD_VERSION = "1"

#: Events that are bookkeeping, not news for the client (a retry is still the same stage step).
SILENT_EVENTS = frozenset({"STAGE_RETRY"})
#: Events that carry a decision TractionBuild acts on: the T0 one, and the posterior one after T0+30 observations.
#: Both go out as ``status: DECISION_READY`` (the contract's handler reads that), told apart by ``event`` and
#: ``decision.source``.
DECISION_EVENTS = frozenset({"DECISION_READY", "POSTERIOR_READY"})

STEP_NAMES = {
    "idea_validation": "Validating the idea",
    "data_ingestion": "Ingesting market data",
    "persona_synthesis": "Synthesizing personas",
    "competitor_analysis": "Analysing competitors",
    "market_simulation": "Simulating the market",
    "decision_analysis": "Analysing the decision",
    "report_generation": "Generating reports",
    "posterior_update": "Updating the forecast with the first weeks' observations",
    "posterior_decision": "Deciding again with the observations",
    "posterior_report": "Rewriting the reports",
}


def is_news(event: dict[str, Any]) -> bool:
    """Whether an event makes a callback. The T0+30 update's stage steps do not: the run is COMPLETED throughout,
    and TractionBuild hears of the update once, when its decision is ready (or once, if it failed)."""
    if event["kind"] in SILENT_EVENTS:
        return False
    return not (event["kind"].startswith("STAGE_") and tracks.is_update(event.get("stage") or ""))

ALERT_SEVERITY = {
    "quality_warning": "warning",
    "risk_escalation": "critical",
    "timeline_slip": "warning",
    "resource_constraint": "info",
}


def _iso(value: Any) -> str | None:
    return iso_z(value) if isinstance(value, dt.datetime) else value


def encode(payload: dict[str, Any]) -> str:
    """The one encoding for bodies: compact and stable, stored once and signed byte for byte."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False, default=str)


def _identity(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "payload_version": PAYLOAD_VERSION,
        "validation_id": run["validation_id"],
        "run_id": run["run_id"],
        "project_id": run["project_id"],
        "correlation_id": run.get("correlation_id"),
    }


def build_update_v1(
    run: dict[str, Any], event: dict[str, Any], stages: list[dict[str, Any]], decision: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``POST {callback_url}/validation/update`` for one event.

    :param decision: ``outputs/decision.output.json`` for ``DECISION_READY`` events,
        ``outputs/posterior.decision.json`` for ``POSTERIOR_READY``.
    """
    stage = event.get("stage") or run.get("current_stage")
    payload = {
        **_identity(run),
        "event": event["kind"],
        # The event's id: increases with every event of a run, so a receiver can tell a late update from a new one.
        "sequence": event["id"],
        "status": "DECISION_READY" if event["kind"] in DECISION_EVENTS else CALLBACK_STATUS[run["status"]],
        "run_status": run["status"],
        "progress": progress(run["status"], stages),
        "current_stage": stage,
        "step_name": STEP_NAMES.get(stage or ""),
        "stage_results": {
            row["name"]: {
                "status": row["status"].lower(),
                "attempt": row["attempt"],
                "duration_ms": row.get("duration_ms"),
                "summary": row.get("result"),
            }
            for row in stages
            if row["status"] in ("SUCCEEDED", "FAILED")
        },
        "estimated_completion": _iso(run.get("estimated_completion")),
        "timestamp": event["at"],
    }
    if run["status"] not in ACTIVE_STATUSES:
        # Once the run stopped, every update says what GET /gate answers from now on (smvm.gate).
        payload["gate_decision"] = gate.run_gate(run)
    data = event.get("data") or {}
    if event["kind"] in DECISION_EVENTS:
        decision = decision or {}
        recommendation = decision.get("recommendation", data.get("recommendation"))
        payload["decision"] = {
            "recommendation": recommendation,
            # What the verdict means for the gate; GET /gate opens once the reports are written and the run completes.
            "gate_decision": gate.RECOMMENDATION_GATE.get(recommendation or "", gate.HOLD),
            "confidence": decision.get("confidence", data.get("confidence")),
            "score": decision.get("score", data.get("score")),
            "critical_success_factors": decision.get("critical_success_factors", []),
            "risk_assessment": decision.get("risk_assessment"),
            "key_factors": decision.get("key_factors"),
            "source": "posterior" if event["kind"] == "POSTERIOR_READY" else "prior",
        }
        if event["kind"] == "POSTERIOR_READY":
            payload["decision"] |= {
                "verdict_probabilities": decision.get("verdict_probabilities", data.get("verdict_probabilities")),
                "prior_recommendation": data.get("prior_recommendation"),
                "changed": data.get("changed"),
                "why": decision.get("why"),
                "moved_most": decision.get("moved_most"),
            }
    if event["kind"] == "POSTERIOR_FAILED":
        payload["posterior"] = {"status": "failed", "error": data.get("error"),
                                "recommendation_source": "prior"}
    if event["kind"] in ("RUN_FAILED", "STAGE_FAILED") and run.get("error"):
        payload["error"] = run["error"]
    return payload


def build_alert_v1(
    run: dict[str, Any], alert_type: str, message: str, details: dict[str, Any], timestamp: str
) -> dict[str, Any]:
    """``POST {callback_url}/validation/alert``."""
    return {
        **_identity(run),
        "alert_type": alert_type,
        "severity": ALERT_SEVERITY[alert_type],
        "message": message,
        "details": details,
        "current_stage": run.get("current_stage"),
        "timestamp": timestamp,
    }


def alerts_for_event(
    run: dict[str, Any],
    event: dict[str, Any],
    *,
    decision: dict[str, Any] | None,
    now: dt.datetime,
    quality_threshold: float,
    slip_factor: float,
) -> list[tuple[str, str, dict[str, Any]]]:
    """The alerts an event raises, as ``(alert_type, message, details)``; each type fires at most once per run."""
    alerts: list[tuple[str, str, dict[str, Any]]] = []
    kind, data = event["kind"], event.get("data") or {}
    summary = data.get("summary") or {}
    if kind == "STAGE_COMPLETED" and event.get("stage") == "data_ingestion":
        quality = summary.get("data_quality")
        if isinstance(quality, int | float) and quality < quality_threshold:
            alerts.append(("quality_warning", f"market data quality {quality:.2f} is below {quality_threshold:.2f}",
                           {"data_quality": quality, "threshold": quality_threshold}))
    if kind == "STAGE_COMPLETED" and event.get("stage") == "market_simulation":
        requested = run["request"]["configuration"].get("simulation_iterations")
        paths = summary.get("paths")
        if isinstance(paths, int) and isinstance(requested, int) and paths < requested:
            alerts.append(("resource_constraint", f"simulation capped at {paths} of {requested} paths",
                           {"limit": "iterations", "requested": requested, "used": paths}))
    if kind == "RUN_INITIATED":
        capped = (run.get("validation") or {}).get("capped") or run["request"].get("capped")
        if capped:
            alerts.append(("resource_constraint", "the request was capped by service limits", {"capped": capped}))
    if kind == "DECISION_READY":
        decision = decision or {}
        recommendation = decision.get("recommendation", data.get("recommendation"))
        high = sorted(name for name, risk in (decision.get("risk_assessment") or {}).items()
                      if isinstance(risk, dict) and risk.get("level") == "high")
        if recommendation == "KILL" or high:
            alerts.append(("risk_escalation", f"recommendation {recommendation}" + (f"; high risk: {', '.join(high)}" if high else ""),
                           {"recommendation": recommendation, "high_risks": high,
                            "confidence": decision.get("confidence", data.get("confidence"))}))
    if kind == "RUN_INCOMPLETE":
        alerts.append(("timeline_slip", "the run passed its timeout and stopped with partial results",
                       {"reason": data.get("reason"), "deadline_at": _iso(run.get("deadline_at"))}))
    elif kind in ("STAGE_COMPLETED", "RUN_COMPLETED") and not tracks.is_update(event.get("stage") or "") \
            and run.get("estimated_completion") and run.get("created_at"):
        budget = (run["estimated_completion"] - run["created_at"]).total_seconds()
        elapsed = (now - run["created_at"]).total_seconds()
        if budget > 0 and elapsed > slip_factor * budget:
            alerts.append(("timeline_slip", f"the run is {elapsed / budget:.1f}x its estimate",
                           {"elapsed_seconds": round(elapsed, 1), "estimate_seconds": round(budget, 1),
                            "estimated_completion": _iso(run["estimated_completion"])}))
    return alerts


#: The seed's ``files`` payload: field name -> artifact path in the run directory.
SYNC_FILES = {
    "decision_output": "outputs/decision.output.json",
    "validation_report": "reports/validation_report.md",
    "simulation_results": "outputs/simulation.result.json",
    "personas_output": "outputs/personas.output.json",
    "competitors_output": "outputs/competitors.output.json",
    # null until the client's T0+30 observations updated the decision
    "posterior_decision": "outputs/posterior.decision.json",
    "run_metadata": "meta.json",
    "events_log": "events.jsonl",
}


def build_sync_v1(run: dict[str, Any], files: dict[str, Any], timestamp: str) -> dict[str, Any]:
    """``POST {TRACTIONBUILD_BASE_URL}/api/v1/projects/{project_id}/validation-results``."""
    return {
        "payload_version": PAYLOAD_VERSION,
        "project_id": run["project_id"],
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "correlation_id": run.get("correlation_id"),
        "timestamp": timestamp,
        "files": {name: files.get(name) for name in SYNC_FILES},
    }
