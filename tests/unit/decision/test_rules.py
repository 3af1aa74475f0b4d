import numpy as np
import pytest

from smvm.decision import rules

pytestmark = pytest.mark.unit

FACTS = {"tam": 1e9, "sam": 2e8, "t0_failed": [], "team_score": 50.0, "team_text": "", "feasibility": 100.0,
         "execution": 75.0, "n_competitors": 8}


def _worlds(**overrides):
    # Three worlds: a healthy one, a viable-but-thin one, one losing money on every customer.
    out = {
        "npv": np.array([2e6, -1e5, -3e6]),
        "arr_36": np.array([6e6, 1.5e6, 8e5]),
        "ltv_cac": np.array([5.0, 2.0, 0.6]),
        "cac_payback_months": np.array([6.0, 14.0, 40.0]),
        "breakeven_month": np.array([20.0, 37.0, 37.0]),
        "acceptance": np.array([0.6, 0.5, 0.4]),
        "market_share": np.array([0.1, 0.06, 0.05]),
        "unit_contribution": np.array([80.0, 20.0, -5.0]),
        "steady_profit": np.array([5e5, 1e4, -2e5]),
        "opex_monthly": np.array([1e5, 1e5, 1e5]),
        "breakeven_arr": np.array([1.6e6, 1.6e6, 1.6e6]),
        "funding_need": np.array([1e6, 2e6, 4e6]),
    }
    out.update({k: np.asarray(v, dtype=float) for k, v in overrides.items()})
    return out


def test_weights_sum_to_one():
    assert sum(rules.WEIGHTS.values()) == pytest.approx(1.0)


def test_classes_follow_must_meets_and_go_gates():
    found = rules.classify(_worlds(), FACTS)
    assert found["classes"].tolist() == [rules.GO, rules.PIVOT, rules.KILL]
    assert found["knockouts"]["unit_economics"].tolist() == [False, False, True]
    assert found["knockouts"]["no_scale"].tolist() == [False, False, True]
    assert found["gates"]["npv_positive"].tolist() == [False, True, True]


@pytest.mark.parametrize(("facts", "knockout"), [({"tam": 5e5}, "tam_gate"),
                                                 ({"t0_failed": [{"code": "x", "message": "y"}]}, "t0_failed")])
def test_fact_knockouts_fail_every_world(facts, knockout):
    found = rules.classify(_worlds(), {**FACTS, **facts})
    assert found["knockouts"][knockout].all()
    assert (found["classes"] == rules.KILL).all()


def test_no_demand_knockout_fires_when_revenue_covers_almost_none_of_the_fixed_costs():
    found = rules.classify(_worlds(arr_36=[6e6, 1e5, 8e5]), FACTS)
    assert found["knockouts"]["no_demand"].tolist() == [False, True, False]


def test_banded_scores_agree_with_classes():
    found = rules.classify(_worlds(), FACTS)
    scores = rules.banded_score(found, found["classes"])
    assert scores[0] >= rules.GO_THRESHOLD
    assert rules.KILL_THRESHOLD <= scores[1] < rules.GO_THRESHOLD
    assert scores[2] < rules.KILL_THRESHOLD
    assert [rules.band(s) for s in scores] == ["GO", "PIVOT", "KILL"]


def test_kill_scores_read_only_the_must_meets_so_less_demand_never_raises_them():
    # Losing money on every customer: winning fewer of them loses less, but is not closer to viable.
    busy = rules.classify(_worlds(), FACTS)
    idle = rules.classify(_worlds(arr_36=[6e6, 1.5e6, 1e3], npv=[2e6, -1e5, -1e6], steady_profit=[5e5, 1e4, -1e5]),
                          FACTS)
    assert idle["kill_score"][2] <= busy["kill_score"][2]
    only_ltv = {"unit_contribution": [80.0, 20.0, 5.0], "steady_profit": [5e5, 1e4, 2e4]}
    near = rules.classify(_worlds(ltv_cac=[5.0, 2.0, 0.8], **only_ltv), FACTS)
    far = rules.classify(_worlds(ltv_cac=[5.0, 2.0, 0.3], **only_ltv), FACTS)
    assert far["kill_score"][2] < near["kill_score"][2] < rules.KILL_THRESHOLD


@pytest.mark.parametrize(("go", "pivot", "kill", "verdict"), [
    (60, 30, 10, "GO"), (50, 0, 50, "GO"), (10, 30, 60, "KILL"), (40, 20, 40, "PIVOT"), (0, 100, 0, "PIVOT"),
    (45, 10, 45, "PIVOT"),
])
def test_the_verdict_is_the_middle_worlds(go, pivot, kill, verdict):
    scores = np.concatenate([np.full(go, 80.0), np.full(pivot, 60.0), np.full(kill, 20.0)])
    got, score = rules.verdict_of(scores)
    assert got == verdict and rules.band(score) == verdict


def test_runner_up_and_probabilities():
    probs = rules.verdict_probabilities(np.array([2, 2, 1, 0], dtype=np.int8))
    assert probs == {"KILL": 0.25, "PIVOT": 0.25, "GO": 0.5}
    assert rules.runner_up({"GO": 0.7, "PIVOT": 0.25, "KILL": 0.05}, "GO") == ("PIVOT", 0.25)


def test_stated_cash_is_judged_against_each_worlds_funding_need():
    silent = rules.dimension_scores(_worlds(), FACTS)["financial_viability"]
    rich = rules.dimension_scores(_worlds(), {**FACTS, "cash_on_hand": 5e6})["financial_viability"]
    poor = rules.dimension_scores(_worlds(), {**FACTS, "cash_on_hand": 1e5})["financial_viability"]
    assert (poor < silent).all() and (silent < rich).all()


def test_team_score_is_neutral_without_facts_and_rises_with_them():
    assert rules.team_score({})[0] == 50.0
    strong, text = rules.team_score({"founders": 2, "relevant_experience_years": 12, "prior_exits": 1, "full_time": 6})
    assert strong > 80.0 and "prior exit" in text
