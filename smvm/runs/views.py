"""What clients see of a run: status, results and the T0+3 gate, built from the store's rows and artifacts."""

from __future__ import annotations

from typing import Any

from smvm import gate
from smvm.artifacts import PUBLIC_ARTIFACTS, RunDirectory
from smvm.errors import ArtifactNotFoundError
from smvm.pipeline.stages import STAGE_NAMES
from smvm.runs import models
from smvm.runs.services import isoformat

_ARTIFACT_NAMES = {path: name for name, path in PUBLIC_ARTIFACTS.items()}
#: SMVM's recommendation in TractionBuild's lower-case words.
GO_WORDS = {"GO": "go", "PIVOT": "pivot", "KILL": "no_go"}


def progress(stages: list[dict[str, Any]]) -> float:
    done = sum(stage["status"] == models.STAGE_SUCCEEDED for stage in stages)
    return round(done / len(STAGE_NAMES), 4)


def status_view(run: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "project_id": run["project_id"],
        "status": run["status"],
        "progress": progress(stages),
        "current_stage": run["current_stage"],
        "step_name": run["current_stage"],
        "stage_results": {stage["name"]: stage["status"].lower() for stage in stages},
        "stages": [
            {
                "name": stage["name"],
                "queue": stage["queue"],
                "status": stage["status"],
                "attempt": stage["attempt"],
                "enqueued_at": isoformat(stage["enqueued_at"]),
                "started_at": isoformat(stage["started_at"]),
                "finished_at": isoformat(stage["finished_at"]),
                "duration_ms": stage["duration_ms"],
                "result": stage["result"],
                "last_error": stage["last_error"],
            }
            for stage in stages
        ],
        "recommendation": run["recommendation"],
        "confidence": run["confidence"],
        "estimated_completion": isoformat(run["estimated_completion"]),
        "created_at": isoformat(run["created_at"]),
        "updated_at": isoformat(run["updated_at"]),
        "completed_at": isoformat(run["completed_at"]),
        "validated_at": isoformat(run["validated_at"]),
        "finalized_at": isoformat(run["finalized_at"]),
        "error": run["error"],
        "correlation_id": run["correlation_id"],
    }


def _read_optional(run_dir: RunDirectory, path: str) -> Any:
    try:
        return run_dir.read_json(path)
    except ArtifactNotFoundError:
        return None


def results_view(
    run: dict[str, Any], stages: list[dict[str, Any]], run_dir: RunDirectory, artifacts: dict[str, str], base_url: str
) -> dict[str, Any]:
    """Everything produced so far; ``partial`` when the pipeline did not finish (INCOMPLETE, FAILED, CANCELLED).

    ``gate_decision`` is the run's gate (:mod:`smvm.gate`), also stamped on the decision and the summary: an
    artifact written before the run stopped says what its verdict meant then, not what the gate says now.

    :param base_url: ``SMVM_PUBLIC_BASE_URL``, the one base of every URL SMVM hands out.
    """
    decision = _read_optional(run_dir, "outputs/decision.output.json")
    summary = _read_optional(run_dir, "validation_summary.json")
    finished = run["status"] in (models.COMPLETED, models.FINALIZED)
    decided = gate.gate_decision(run["status"], (decision or {}).get("recommendation") or run["recommendation"])
    for document in (decision, summary):
        if isinstance(document, dict) and "gate_decision" in document:
            document["gate_decision"] = decided
    return {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "project_id": run["project_id"],
        "status": run["status"],
        "partial": not finished,
        "progress": progress(stages),
        "gate_decision": decided,
        "validation_results": run["validation"],
        "decision": decision,
        "summary": summary,
        "completion": run["completion"],
        "finalization": run["finalization"],
        "artifacts": {
            _ARTIFACT_NAMES.get(path, path): {
                "path": path,
                "sha256": sha,
                "url": artifact_url(base_url, run["run_id"], _ARTIFACT_NAMES.get(path, path)),
            }
            for path, sha in artifacts.items()
        },
        "run_directory": run["run_dir"],
    }


def artifact_url(base_url: str, run_id: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/validation/{run_id}/artifacts/{name}"


def gate_view(run: dict[str, Any], decision: dict[str, Any] | None) -> dict[str, Any]:
    """The T0+3 CrewController gate, in SMVM's and TractionBuild's field names.

    ``gate_decision`` comes from :func:`smvm.gate.gate_decision`: GO and PIVOT proceed (PIVOT with its critical
    success factors as requirements), KILL, FAILED and CANCELLED reject, anything still running or INCOMPLETE holds.
    """
    status = run["status"]
    base: dict[str, Any] = {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "status": status,
        "estimated_completion": isoformat(run["estimated_completion"]),
    }
    recommendation = decision["recommendation"] if decision is not None else None
    decided = gate.gate_decision(status, recommendation)
    if status in (models.COMPLETED, models.FINALIZED) and decision is not None:
        passed = gate.can_progress(decided)
        return {
            **base,
            "can_progress": passed,
            "passed": passed,
            "recommendation": recommendation,
            "go_recommendation": GO_WORDS[recommendation],
            "confidence": decision["confidence"],
            "confidence_score": decision["confidence"],
            "requirements": decision.get("critical_success_factors", []) if recommendation != "GO" else [],
            "block_reason": None if passed else "SMVM validation decision",
            "gate_decision": decided,
            "key_factors": decision.get("key_factors", []),
            "next_steps": decision.get("next_steps", []),
            "critical_success_factors": decision.get("critical_success_factors", []),
        }
    if status == models.FAILED:
        reason, error = "SMVM validation failed", run["error"]
    elif status == models.CANCELLED:
        reason, error = "SMVM validation cancelled", run["error"]
    elif status == models.INCOMPLETE:
        reason, error = "SMVM validation timed out before a decision", None
    elif status == models.FINALIZED:
        reason, error = "SMVM validation was finalized without a decision", None
    else:
        reason, error = "SMVM validation in progress", None
    return {
        **base,
        "can_progress": False,
        "passed": False,
        "recommendation": None,
        "go_recommendation": None,
        "confidence": None,
        "confidence_score": None,
        "requirements": [],
        "block_reason": reason,
        "gate_decision": decided,
        "key_factors": [],
        "next_steps": [],
        "error_details": error,
    }


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "project_id": run["project_id"],
        "status": run["status"],
        "recommendation": run["recommendation"],
        "confidence": run["confidence"],
        "created_at": isoformat(run["created_at"]),
        "completed_at": isoformat(run["completed_at"]),
    }


def finalization_view(run: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    """T32's answer: the client's go/no-go when it sent one, else SMVM's recommendation in the client's words."""
    finalization = run["finalization"] or {}
    return status_view(run, stages) | {
        "finalization": run["finalization"],
        "final_recommendation": finalization.get("decision") or GO_WORDS.get(run["recommendation"] or ""),
        "smvm_recommendation": run["recommendation"],
    }
