import copy

import pytest

from smvm.intake.validation import parse_request, validate_idea
from smvm.market.competitors import synthesize_competitors
from smvm.market.ingestion import ingest_market_data
from smvm.market.personas import synthesize_personas
from smvm.simulation.config import build_simulation_config

BODY = {
    "project_id": "PROJ-T",
    "business_idea": {"title": "Shift planner", "description": "Scheduling software for restaurant teams that "
                      "builds the week's rota from sales forecasts and staff availability.",
                      "target_market": "Independent restaurants", "value_proposition": "Rotas in minutes",
                      "domain": "saas", "estimated_tam": 3e9, "estimated_sam": 6e8, "estimated_som": 2e7},
    "evidence": {"cac": 800.0, "price_points": [120.0, 150.0]},
}


def make_request(body=None):
    request = parse_request(copy.deepcopy(body or BODY))
    request["run_id"] = "RUN-T"
    return request


REQUEST = make_request()


def make_config(*, seed=7, iterations=1000, paths=16_384, sampler="sobol", scenario="base", analyses=None,
                evidence=None, persona_count=3, competitor_count=4, body=None):
    body = copy.deepcopy(body or BODY)
    if evidence is not None:
        body["evidence"] = evidence
    req = make_request(body)
    md = ingest_market_data(req)
    personas = synthesize_personas(req, md, count=persona_count, seed=seed)
    comps = synthesize_competitors(req, md, count=competitor_count, seed=seed)
    cfg = build_simulation_config(req, md, personas, comps, iterations=iterations, seed=seed, sampler=sampler,
                                  scenario=scenario, decision_grade_paths=paths, validation=validate_idea(req),
                                  analyses=analyses or {"sobol_n": 512, "scenario_paths": 2048,
                                                        "fan_paths": 4096, "importance_paths": 8192})
    cfg["paths"]["chunk_size"] = 2048
    return cfg


@pytest.fixture
def small_config():
    return make_config()
