import json

import pytest

from benchmarks.ideas import evaluate_idea, load_ideas
from smvm.gate import RECOMMENDATION_GATE

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def by_name():
    return dict(load_ideas())


@pytest.mark.parametrize("name", ["go_payroll_compliance", "mid_legal_docs", "kill_crowded_crm"])
def test_decision_document_shape(by_name, name):
    dec = evaluate_idea(by_name[name], seed=3, paths=8192, full=True, threads=2, chunk_size=2048)["decision"]
    json.dumps(dec)
    assert dec["recommendation"] in ("GO", "PIVOT", "KILL")
    # The contract's gate lets PIVOT progress with its requirements: the one mapping is smvm/gate.py.
    assert dec["gate_decision"] == RECOMMENDATION_GATE[dec["recommendation"]]
    assert RECOMMENDATION_GATE == {"GO": "proceed", "PIVOT": "proceed", "KILL": "reject"}
    assert 0.0 <= dec["confidence"] <= 1.0
    assert [d["name"] for d in dec["dimensions"]] == ["market_opportunity", "willingness_to_pay",
                                                       "competitive_position", "technical_feasibility",
                                                       "financial_viability", "risk", "team"]
    assert all(0.0 <= f["score"] <= 1.0 and f["evidence"] for f in dec["key_factors"])
    assert dec["critical_success_factors"] and dec["next_steps"]
    assert set(dec["risk_assessment"]) == {"market", "technical", "execution"}
    assert set(dec["deliverables"]) == {"market_analysis", "financial_projections", "technical_validation",
                                        "risk_assessment"}
    assert len(dec["deliverables"]["market_analysis"]["top_5_competitors"]) == 5
    assert len(dec["deliverables"]["financial_projections"]["revenue_forecast_3y"]) == 3


def test_pivot_names_drivers_and_resimulates_a_change(by_name):
    dec = evaluate_idea(by_name["mid_legal_docs"], seed=3, paths=8192, full=True, threads=2,
                        chunk_size=2048)["decision"]
    assert dec["recommendation"] == "PIVOT"
    pivot = dec["pivot"]
    assert 2 <= len(pivot["drivers"]) <= 3
    assert pivot["suggested_change"]
    resim = pivot["resimulated"]
    assert resim["best"]["change"] == pivot["suggested_change"]
    assert len(resim["candidates"]) >= 4
    assert resim["best"]["score"] == max(c["score"] for c in resim["candidates"])


def test_failed_business_logic_check_is_a_knockout(by_name):
    from smvm.decision.services import analyse_decision

    run = evaluate_idea(by_name["go_payroll_compliance"], seed=1, paths=4096, chunk_size=1024)
    dec = analyse_decision(run["request"], {"business_logic_check": "failed"}, run["market_data"], run["personas"],
                           run["competitors"], run["simulation_result"], run["simulation_config"])
    assert dec["recommendation"] == "KILL"
