import pytest

from smvm.decision.scoring import (
    GO_THRESHOLD,
    KILL_THRESHOLD,
    WEIGHTS,
    classify,
    evaluate,
    knockouts,
    weighted_score,
)

pytestmark = pytest.mark.unit

GOOD = {"arr_36_p50": 2e7, "arr_36_p90": 4e7, "p_reach_som": 0.9, "acceptance_mean": 0.8, "cac_payback_p50": 6.0,
        "market_share_mean": 0.3, "p_npv_positive": 0.95, "ltv_cac_p50": 6.0, "p_breakeven_36": 0.95,
        "p_breakeven_24": 0.9, "funding_need_p50": 1e6, "npv_p10": 1e6}
CTX = {"sam": 2e9, "tam": 1e10, "n_competitors": 5, "hhi": 1000.0, "data_quality": 0.8, "complexity": 0.5,
       "feasibility": 93.5, "team": 70.0, "breakeven_arr": 2e6}


def test_weights_sum_to_one():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(("score", "knockouts_", "gates", "expected"), [
    (100.0, 0, 0, "GO"),
    (GO_THRESHOLD, 0, 0, "GO"),
    (74.99, 0, 0, "PIVOT"),
    (KILL_THRESHOLD, 0, 0, "PIVOT"),
    (44.99, 0, 0, "KILL"),
    (0.0, 0, 0, "KILL"),
    (90.0, 1, 0, "KILL"),
    (90.0, 0, 1, "PIVOT"),
    (60.0, 0, 2, "PIVOT"),
])
def test_decision_thresholds(score, knockouts_, gates, expected):
    assert classify(score, knockouts_, gates) == expected


def test_weighted_score_is_the_weighted_sum():
    dims = {k: 50.0 for k in WEIGHTS}
    dims["market_opportunity"] = 90.0
    assert weighted_score(dims) == pytest.approx(50.0 + 0.25 * 40.0)


@pytest.mark.parametrize(("change", "rule"), [
    ({"ltv_cac_p50": 0.8}, "ltv_cac_p50 >= 1"),
    ({"p_npv_positive": 0.1}, "P(NPV>0) >= 0.15"),
    ({"arr_36_p90": 1e6}, "P90 ARR at month 36 >= break-even revenue"),
])
def test_each_knockout_forces_kill(change, rule):
    m = {**GOOD, **change}
    assert [k["rule"] for k in knockouts(m, CTX)] == [rule]
    assert evaluate(m, CTX)["recommendation"] == "KILL"


def test_tiny_tam_is_a_knockout():
    assert evaluate(GOOD, {**CTX, "tam": 5e5})["recommendation"] == "KILL"


def test_strong_metrics_go_and_failed_gate_caps_at_pivot():
    assert evaluate(GOOD, CTX)["recommendation"] == "GO"
    capped = evaluate({**GOOD, "p_npv_positive": 0.5}, CTX)
    assert capped["score"] >= GO_THRESHOLD - 5 and capped["recommendation"] == "PIVOT"
