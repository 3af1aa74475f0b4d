"""The T0+3 gate, decided in one place: what a verdict and a run's status mean for TractionBuild's pipeline.

The contract's gate code lets GO and PIVOT progress (PIVOT with its critical success factors as requirements) and
blocks KILL, a failed run and one still running. ``GET /gate``, the results, ``validation_summary.json``, the report
and the callbacks all read this mapping, so the same run never gets two answers. Once the T0+30 observations have
updated the decision, every one of them reads the posterior verdict (:func:`final_recommendation`).
"""

from __future__ import annotations

from typing import Any

from smvm import lifecycle

PROCEED = "proceed"
HOLD = "hold"
REJECT = "reject"
GATE_DECISIONS = (PROCEED, HOLD, REJECT)

#: What each verdict means for the gate once the run has finished.
RECOMMENDATION_GATE = {"GO": PROCEED, "PIVOT": PROCEED, "KILL": REJECT}

#: SMVM's verdicts in TractionBuild's lower-case go/no-go words.
GO_WORDS = {"GO": "go", "PIVOT": "pivot", "KILL": "no_go"}

#: Runs that ended without a decision the gate can use: nothing will ever open it.
_REJECTED_STATUSES = (lifecycle.FAILED, lifecycle.CANCELLED)
#: Runs whose decision is final and readable (COMPLETED, and FINALIZED from COMPLETED).
_DECIDED_STATUSES = (lifecycle.COMPLETED, lifecycle.FINALIZED)


def gate_decision(status: str, recommendation: str | None) -> str:
    """``proceed``, ``hold`` or ``reject`` for a run in ``status`` with ``recommendation`` (``None`` if none yet).

    INCOMPLETE holds even with a decision on disk: the pipeline stopped before it finished, so the client decides
    whether to re-run; FAILED and CANCELLED reject.
    """
    if status in _DECIDED_STATUSES and recommendation in RECOMMENDATION_GATE:
        return RECOMMENDATION_GATE[recommendation]
    if status in _REJECTED_STATUSES:
        return REJECT
    return HOLD


def final_recommendation(run: dict[str, Any]) -> str | None:
    """SMVM's recommendation for a run now: the posterior one once the T0+30 update is ready, else the T0 one."""
    return (run.get("posterior") or {}).get("recommendation") or run.get("recommendation")


def recommendation_source(run: dict[str, Any]) -> str | None:
    """``posterior`` or ``prior``: which decision :func:`final_recommendation` is; ``None`` before any decision."""
    if (run.get("posterior") or {}).get("recommendation"):
        return "posterior"
    return "prior" if run.get("recommendation") else None


def run_gate(run: dict[str, Any]) -> str:
    """The gate of a run row: :func:`gate_decision` of its status and final recommendation."""
    return gate_decision(run["status"], final_recommendation(run))


def can_progress(decision: str) -> bool:
    return decision == PROCEED
