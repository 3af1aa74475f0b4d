"""The T0+30 stages: when the client's observations arrive with PUT complete, the worlds are conditioned on them
(simulation queue), the posterior decision made and the reports rewritten (pipeline queue). The run stays
COMPLETED throughout; its T0 decision is kept beside the posterior one."""

from __future__ import annotations

from typing import Any

from smvm.calibration.ledger import records
from smvm.decision.update import analyse_update
from smvm.pipeline.stages import REPORTS, Stage, StageContext, report_generation
from smvm.queues import PIPELINE_QUEUE, SIMULATION_QUEUE
from smvm.simulation.posterior import update

POSTERIOR_RESULT = "outputs/posterior.result.json"
POSTERIOR_DECISION = "outputs/posterior.decision.json"


def observations_of(run: dict[str, Any]) -> dict[str, Any]:
    """The observed metrics PUT complete recorded for a run ({} when none)."""
    return dict(((run.get("completion") or {}).get("observed_metrics")) or {})


def _posterior_update(ctx: StageContext) -> dict[str, Any]:
    result = update(ctx.read_json("outputs/simulation.config.json"), observations_of(ctx.run))
    ctx.write_json(POSTERIOR_RESULT, result)
    return {"verdict": result["posterior"]["verdict"], "effective_worlds": round(result["likelihood"]["effective_worlds"]),
            "tempering": result["likelihood"]["tempering"]}


def _posterior_decision(ctx: StageContext) -> dict[str, Any]:
    posterior = ctx.read_json(POSTERIOR_RESULT)
    decision = analyse_update(ctx.read_json("outputs/decision.output.json"), posterior)
    ctx.write_json(POSTERIOR_DECISION, decision)
    domain = ctx.read_json("inputs/market_data.json")["domain"]["name"]
    return {"recommendation": decision["recommendation"], "confidence": decision["confidence"],
            "verdict_probabilities": decision["verdict_probabilities"],
            "prior_recommendation": decision["prior"]["recommendation"], "changed": decision["changed"],
            "ledger": records(ctx.run["run_id"], domain, posterior)}


UPDATE_STAGES: tuple[Stage, ...] = (
    Stage("posterior_update", SIMULATION_QUEUE, _posterior_update, (POSTERIOR_RESULT,)),
    Stage("posterior_decision", PIPELINE_QUEUE, _posterior_decision, (POSTERIOR_DECISION,)),
    Stage("posterior_report", PIPELINE_QUEUE, report_generation, REPORTS, reads_calibration=True),
)
#: The stage whose success makes the posterior decision available to TractionBuild.
POSTERIOR_DECISION_STAGE = "posterior_decision"
