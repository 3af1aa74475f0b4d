import copy

import pytest

from smvm.market.services import ingest_market_data, synthesize_competitors, synthesize_personas
from smvm.simulation.services import build_simulation_config

REQUEST = {
    "project_id": "PROJ-T", "run_id": "RUN-T",
    "idea": {"title": "Shift planner", "description": "B2B SaaS scheduling software for restaurant teams",
             "domain": "saas", "estimated_tam": 3e9, "estimated_sam": 6e8, "estimated_som": 2e7,
             "target_avatars": []},
    "evidence": {"cac": 800.0, "price_points": [120.0, 150.0]},
    "configuration": {},
}


def make_config(*, seed=7, iterations=1000, paths=16_384, sampler="sobol", scenario="base", analyses=None,
                evidence=None, persona_count=3, competitor_count=4):
    req = copy.deepcopy(REQUEST)
    if evidence is not None:
        req["evidence"] = evidence
    md = ingest_market_data(req)
    personas = synthesize_personas(req, md, count=persona_count, seed=seed)
    comps = synthesize_competitors(req, md, count=competitor_count, seed=seed)
    cfg = build_simulation_config(req, md, personas, comps, iterations=iterations, seed=seed, sampler=sampler,
                                  scenario=scenario, decision_grade_paths=paths,
                                  analyses=analyses or {"sobol_n": 512, "scenario_paths": 2048,
                                                        "fan_paths": 4096, "importance_paths": 8192})
    cfg["paths"]["chunk_size"] = 2048
    cfg["convergence"]["max_paths"] = cfg["paths"]["initial"]
    return cfg


@pytest.fixture
def small_config():
    return make_config()
