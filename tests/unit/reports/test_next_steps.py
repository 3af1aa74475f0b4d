"""What to do next fits the idea's stage and evidence (smvm.decision.analysis._next_steps)."""

import copy

import pytest

from smvm.decision.analysis import _next_steps

pytestmark = pytest.mark.unit


def _worlds(verdict="PIVOT", flips=()):
    return {"what_would_change_it": list(flips), "suggestions": [], "borderline": False,
            "knockouts": {"unit_economics": {"confirmed_share": 0.9}, "no_scale": {"confirmed_share": 0.2}}}


def _selling(market_data, monthly_revenue):
    md = copy.deepcopy(market_data)
    md["evidence"]["traction"] = {"customers": 900, "monthly_revenue": monthly_revenue, "months": 14}
    md["facts"]["product_live"] = True
    return md


@pytest.mark.parametrize("verdict", ["GO", "PIVOT", "KILL"])
def test_a_company_with_paying_customers_is_never_sent_to_a_survey_or_a_pre_sale(bundles, verdict):
    md = _selling(bundles["NO_EVIDENCE"]["market_data"], 120_000)  # $1.4M ARR, every other input a benchmark
    asks = [{"input": "wtp_level"}, {"input": "bass_p"}, {"input": "cac"}]
    steps = _next_steps(verdict, md, asks, None, _worlds(verdict))
    text = " ".join(steps).lower()
    assert "survey" not in text and "van westendorp" not in text and "pre-sale" not in text
    assert "first paying customers" not in text and "pilot" not in text
    if verdict == "PIVOT":
        assert any("new sign-ups" in s for s in steps)  # the price is tested on real buyers instead


def test_before_the_first_sale_paying_customers_come_first_and_nothing_repeats(bundles):
    md = bundles["NO_EVIDENCE"]["market_data"]
    asks = [{"input": "cac"}, {"input": "churn"}, {"input": "wtp_level"}]
    steps = _next_steps("PIVOT", md, asks, None, _worlds())
    assert steps[0].startswith("Win the first paying customers")
    assert len(steps) == len(set(steps)) <= 5
    assert sum("price" in s.lower() and "survey" in s.lower() for s in steps) == 1


def test_a_kill_stops_the_plan_and_names_what_would_reopen_it(bundles):
    md = bundles["KILL"]["market_data"]
    flip = {"input": "cac", "value": 212.0, "from": 450.0, "factor": 0.47, "verdict": "PIVOT"}
    steps = _next_steps("KILL", md, [], None, _worlds("KILL", [flip]))
    assert steps[0] == "Stop investment in growth in this form: each customer costs more to win than it ever pays back"
    assert steps[1] == "Revisit only if you can bring CAC to $212 (now $450): that would make it a PIVOT"
    assert len(steps) == 2  # more benchmark evidence would not change a KILL resting on the client's figures


def test_a_go_keeps_acquisition_cost_below_the_value_where_it_would_turn(bundles):
    md = _selling(bundles["GO"]["market_data"], 200_000)
    flip = {"input": "cac", "value": 1998.0, "from": 599.0, "factor": 3.3, "verdict": "PIVOT"}
    steps = _next_steps("GO", md, [], None, _worlds("GO", [flip]))
    assert steps[0].startswith("Plan growth beyond $2.4M ARR")
    assert "below $1,998, where the verdict turns PIVOT" in steps[0]


def test_a_pivot_tests_a_change_only_when_it_moves_the_odds(bundles):
    md = bundles["PIVOT"]["market_data"]
    plan = {"lever": "plan", "probabilities": {"GO": 0.03, "PIVOT": 0.96, "KILL": 0.01}}
    useless = {"lever": "retention", "change": "Invest in retention", "probabilities": plan["probabilities"]}
    useful = {"lever": "lean", "change": "Run leaner", "probabilities": {"GO": 0.12, "PIVOT": 0.87, "KILL": 0.01}}
    worlds = {**_worlds(), "suggestions": [plan, useless, useful]}
    assert not any("Invest in retention" in s for s in _next_steps("PIVOT", md, [], useless, worlds))
    # A leaner team is tried for a quarter; a price or a channel is tried on new customers.
    assert _next_steps("PIVOT", md, [], useful, worlds)[0] == "Test the change for a quarter: Run leaner"
