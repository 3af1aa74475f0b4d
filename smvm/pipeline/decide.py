"""Run the stages up to the decision in memory, without a run directory: for evaluation, sweeps and tests."""

from __future__ import annotations

from typing import Any

from smvm.decision.analysis import analyse_decision
from smvm.intake.validation import validate_idea
from smvm.market.competitors import synthesize_competitors
from smvm.market.ingestion import ingest_market_data
from smvm.market.personas import synthesize_personas
from smvm.simulation.config import build_simulation_config
from smvm.simulation.execution import run_simulation
from smvm.simulation.worlds import MAX_WORLD_BLOCKS, WORLD_BLOCK

#: The analyses the verdict does not read (sensitivity, scenarios, fan charts, what would change it): a verdict-only
#: run skips them, simulates just the paths the worlds can use, and gives the same verdict, score and probabilities
#: as a full run.
VERDICT_ONLY = {"sensitivity": False, "scenarios": False, "fan_paths": 0, "importance_paths": 0, "flip_points": False}
VERDICT_PATHS = WORLD_BLOCK * MAX_WORLD_BLOCKS


def decide(request: dict[str, Any], *, seed: int, verdict_only: bool = False, threads: int | None = None) -> dict[str, Any]:
    """Every stage output up to the decision for a normalized request (see ``smvm.intake.validation.parse_request``).

    :returns: ``{"validation", "market_data", "personas", "competitors", "simulation_config", "simulation_result",
        "decision"}``.
    """
    request = {**request, "configuration": {**request["configuration"], "seed": int(seed)}}
    conf = request["configuration"]
    validation = validate_idea(request)
    market_data = ingest_market_data(request)
    personas = synthesize_personas(request, market_data, count=conf["persona_count"], seed=seed)
    competitors = synthesize_competitors(request, market_data, count=conf["competitor_count"], seed=seed)
    extra: dict[str, Any] = {"analyses": VERDICT_ONLY, "decision_grade_paths": VERDICT_PATHS} if verdict_only else {}
    config = build_simulation_config(request, market_data, personas, competitors,
                                     iterations=min(conf["simulation_iterations"], VERDICT_PATHS) if verdict_only
                                     else conf["simulation_iterations"],
                                     seed=seed, sampler=conf.get("sampler", "sobol"),
                                     scenario=conf.get("scenario", "base"), validation=validation, **extra)
    result = run_simulation(config, threads=threads)
    decision = analyse_decision(request, validation, market_data, personas, competitors, result, config)
    return {"validation": validation, "market_data": market_data, "personas": personas, "competitors": competitors,
            "simulation_config": config, "simulation_result": result, "decision": decision}
