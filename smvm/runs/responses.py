"""What clients see of a run: status, results and the T0+3 gate, built from the store's rows and artifacts."""

from __future__ import annotations

from typing import Any

from smvm import gate, lifecycle
from smvm.artifacts import PUBLIC_ARTIFACTS, RunDirectory
from smvm.clock import iso_z
from smvm.errors import ArtifactNotFoundError
from smvm.gate import GO_WORDS
from smvm.pipeline import tracks
from smvm.pipeline.stages import STAGE_NAMES
from smvm.pipeline.update_stages import POSTERIOR_DECISION
from smvm.runs.store import final_word, update_status

_ARTIFACT_NAMES = {path: name for name, path in PUBLIC_ARTIFACTS.items()}


def progress(run_status: str, stages: list[dict[str, Any]]) -> float:
    """The share of the T0 pipeline done, in status answers and callbacks alike; the T0+30 update has its own
    (``posterior``)."""
    if run_status in (lifecycle.COMPLETED, lifecycle.FINALIZED):
        return 1.0
    done = sum(stage["status"] == lifecycle.STAGE_SUCCEEDED for stage in stages if not tracks.is_update(stage["name"]))
    return round(done / len(STAGE_NAMES), 4)


def posterior_view(run: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Where the T0+30 update stands, and its decision once ready; ``None`` when no observations started one."""
    status = update_status(stages)
    if status is None:
        return None
    return {"status": status, **(run.get("posterior") or {})}


def status_view(run: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "project_id": run["project_id"],
        "status": run["status"],
        "progress": progress(run["status"], stages),
        "current_stage": run["current_stage"],
        "step_name": run["current_stage"],
        "stage_results": {stage["name"]: stage["status"].lower() for stage in stages},
        "stages": [
            {
                "name": stage["name"],
                "queue": stage["queue"],
                "status": stage["status"],
                "attempt": stage["attempt"],
                "enqueued_at": iso_z(stage["enqueued_at"]),
                "started_at": iso_z(stage["started_at"]),
                "finished_at": iso_z(stage["finished_at"]),
                "duration_ms": stage["duration_ms"],
                "result": stage["result"],
                "last_error": stage["last_error"],
            }
            for stage in stages
        ],
        "recommendation": run["recommendation"],
        "confidence": run["confidence"],
        "posterior": posterior_view(run, stages),
        "estimated_completion": iso_z(run["estimated_completion"]),
        "created_at": iso_z(run["created_at"]),
        "updated_at": iso_z(run["updated_at"]),
        "completed_at": iso_z(run["completed_at"]),
        "validated_at": iso_z(run["validated_at"]),
        "finalized_at": iso_z(run["finalized_at"]),
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
    # Only once the whole update is ready: a posterior decision whose reports are still being written is not news.
    posterior_decision = _read_optional(run_dir, POSTERIOR_DECISION) if run.get("posterior") else None
    finished = run["status"] in (lifecycle.COMPLETED, lifecycle.FINALIZED)
    decided = gate.run_gate({**run, "recommendation": run["recommendation"] or (decision or {}).get("recommendation")})
    for document in (decision, posterior_decision, summary):
        if isinstance(document, dict) and "gate_decision" in document:
            document["gate_decision"] = decided
    return {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "project_id": run["project_id"],
        "status": run["status"],
        "partial": not finished,
        "progress": progress(run["status"], stages),
        "gate_decision": decided,
        "validation_results": run["validation"],
        "decision": decision,
        "posterior_decision": posterior_decision,
        "final_recommendation": final_word(run, stages),
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


def gate_documents(run: dict[str, Any], run_dir: RunDirectory) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The decision documents the gate reads: the T0 one once decided, the posterior one once its update is ready."""
    decision = _read_optional(run_dir, "outputs/decision.output.json") if run["recommendation"] is not None else None
    posterior = _read_optional(run_dir, POSTERIOR_DECISION) if run.get("posterior") else None
    return decision, posterior


def gate_view(run: dict[str, Any], decision: dict[str, Any] | None,
              posterior_decision: dict[str, Any] | None = None) -> dict[str, Any]:
    """The T0+3 CrewController gate, in SMVM's and TractionBuild's field names.

    ``gate_decision`` comes from :func:`smvm.gate.gate_decision`: GO and PIVOT proceed (PIVOT with its critical
    success factors as requirements), KILL, FAILED and CANCELLED reject, anything still running or INCOMPLETE holds.
    Once the T0+30 update is ready, ``posterior_decision`` answers (``source`` says which decision it is).
    """
    status = run["status"]
    base: dict[str, Any] = {
        "run_id": run["run_id"],
        "validation_id": run["validation_id"],
        "status": status,
        "estimated_completion": iso_z(run["estimated_completion"]),
    }
    source = "posterior" if posterior_decision is not None and decision is not None else "prior"
    if source == "posterior":
        decision = {**decision, **posterior_decision}  # type: ignore[dict-item]
    recommendation = decision["recommendation"] if decision is not None else None
    decided = gate.gate_decision(status, recommendation)
    if status in (lifecycle.COMPLETED, lifecycle.FINALIZED) and decision is not None:
        passed = gate.can_progress(decided)
        return {
            **base,
            "source": source,
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
    if status == lifecycle.FAILED:
        reason, error = "SMVM validation failed", run["error"]
    elif status == lifecycle.CANCELLED:
        reason, error = "SMVM validation cancelled", run["error"]
    elif status == lifecycle.INCOMPLETE:
        reason, error = "SMVM validation timed out before a decision", None
    elif status == lifecycle.FINALIZED:
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
        "created_at": iso_z(run["created_at"]),
        "completed_at": iso_z(run["completed_at"]),
    }


def finalization_view(run: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    """T32's answer: SMVM's final recommendation (posterior where observations updated it, said which), in
    TractionBuild's words and SMVM's, with TractionBuild's recorded decision beside it and whether the two disagree.

    What SMVM said is read from the finalization as recorded, so a repeat answers the same even if an update
    finished since."""
    finalization = run["finalization"] or {}
    smvm = finalization.get("smvm") or final_word(run, stages)
    recommendation = smvm["recommendation"]
    return status_view(run, stages) | {
        "finalization": run["finalization"],
        "final_recommendation": GO_WORDS.get(recommendation or ""),
        "smvm_recommendation": recommendation,
        "recommendation_source": smvm["source"],
        "tractionbuild_decision": finalization.get("decision"),
        "disagreement": finalization.get("agrees") is False,
    }
