"""Load the shipped example ideas and run them through the market model in-process (no runtime needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smvm.decision.services import analyse_decision
from smvm.market.services import ingest_market_data, synthesize_competitors, synthesize_personas
from smvm.simulation.services import build_simulation_config, run_simulation

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK_DIR = ROOT / "examples" / "benchmark"
PASSED_VALIDATION = {"schema_compliance": "passed", "business_logic_check": "passed", "risk_assessment": "low",
                     "issues": [], "recommendations": []}


def load_ideas() -> list[tuple[str, dict[str, Any]]]:
    """(file stem, canonical body) for every benchmark idea, sorted by name."""
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(BENCHMARK_DIR.glob("*.json"))]


def to_request(body: dict[str, Any], *, seed: int) -> dict[str, Any]:
    """A minimal stand-in for the runtime's intake: canonical body -> normalized request."""
    idea = body["business_idea"]
    conf = {"simulation_iterations": 1000, "persona_count": 5, "competitor_count": 10, "sampler": "sobol",
            "scenario": "base", **(body.get("configuration") or {}), "seed": seed}
    return {
        "project_id": body["project_id"], "run_id": f"RUN-BENCH-{seed}",
        "idea": {"title": idea.get("title"), "description": idea["description"], "domain": idea.get("domain"),
                 "target_market": idea.get("target_market"), "value_proposition": idea.get("value_proposition"),
                 "estimated_tam": idea.get("estimated_tam"), "estimated_sam": idea.get("estimated_sam"),
                 "estimated_som": idea.get("estimated_som"), "urgency": None, "target_customers": None,
                 "competitive_advantage": idea.get("competitive_advantage"), "hypothesis": None,
                 "target_avatars": []},
        "evidence": body.get("evidence") or {},
        "configuration": conf,
        "metadata": body.get("metadata") or {},
    }


def evaluate_idea(body: dict[str, Any], *, seed: int, paths: int | None = None, full: bool = False,
                  threads: int = 1, chunk_size: int | None = None) -> dict[str, Any]:
    """Run ingestion -> personas -> competitors -> simulation -> decision; returns every stage output."""
    req = to_request(body, seed=seed)
    conf = req["configuration"]
    md = ingest_market_data(req)
    personas = synthesize_personas(req, md, count=conf["persona_count"], seed=seed)
    comps = synthesize_competitors(req, md, count=conf["competitor_count"], seed=seed)
    kwargs: dict[str, Any] = {}
    if paths is not None:
        kwargs["decision_grade_paths"] = paths
    if not full:
        kwargs["analyses"] = {"sensitivity": False, "scenarios": False, "fan_paths": 0, "importance_paths": 0}
    cfg = build_simulation_config(req, md, personas, comps, iterations=min(conf["simulation_iterations"],
                                                                           paths or conf["simulation_iterations"]),
                                  seed=seed, sampler=conf["sampler"], scenario=conf["scenario"], **kwargs)
    if chunk_size is not None:
        cfg["paths"]["chunk_size"] = chunk_size
    if paths is not None:
        cfg["convergence"]["max_paths"] = max(paths, cfg["paths"]["initial"])
    sim = run_simulation(cfg, threads=threads)
    dec = analyse_decision(req, PASSED_VALIDATION, md, personas, comps, sim, cfg, resimulate_pivot=full)
    return {"request": req, "market_data": md, "personas": personas, "competitors": comps,
            "simulation_config": cfg, "simulation_result": sim, "decision": dec}

