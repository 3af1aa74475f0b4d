import copy

import pytest

from smvm.intake.validation import parse_request

BODY = {
    "project_id": "P-MARKET",
    "business_idea": {"title": "Shift planner", "description": "Scheduling software for restaurant teams that "
                      "builds the week's rota from sales forecasts and staff availability.",
                      "target_market": "Independent restaurants", "value_proposition": "Rotas in minutes",
                      "domain": "saas", "estimated_tam": 2e9, "estimated_sam": 3e8, "estimated_som": 1e7},
}


def request_for(**changes):
    """A normalized request for BODY with top-level keys (evidence, financials, ...) or idea fields replaced."""
    body = copy.deepcopy(BODY)
    for key, value in changes.items():
        if key in body["business_idea"] or key in ("domain",):
            body["business_idea"][key] = value
        else:
            body[key] = value
    request = parse_request(body)
    request["run_id"] = "RUN-MARKET"
    return request


@pytest.fixture
def make_request():
    return request_for
