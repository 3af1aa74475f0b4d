import copy
import math

import numpy as np
import pytest

from smvm.calibration import ledger
from smvm.intake.validation import parse_request
from smvm.pipeline.decide import decide
from smvm.simulation import posterior
from tests.unit.simulation.conftest import BODY

pytestmark = pytest.mark.unit


def test_negative_binomial_tends_to_poisson_and_the_conjugate_posterior_is_recovered():
    # Worlds whose expected count is Gamma(a, b) and an observed Poisson count y: the posterior of the expected count
    # is Gamma(a + y, b + 1) in closed form. Importance weights from the likelihood must reproduce its mean.
    rng = np.random.default_rng(5)
    a, b, y = 3.0, 0.5, 9
    mu = rng.gamma(a, 1.0 / b, size=200_000)
    ll = posterior._negbin_logpmf(float(y), mu, phi=1e7)  # dispersion → ∞ is Poisson
    w = np.exp(ll - ll.max())
    w /= w.sum()
    assert float((w * mu).sum()) == pytest.approx((a + y) / (b + 1.0), rel=0.01)


def test_an_uninformative_observation_leaves_the_prior():
    weights, beta, ess = posterior.tempered_weights(np.zeros(1000))
    assert beta == 1.0 and ess == pytest.approx(1000.0)
    assert np.allclose(weights, 1e-3)


def test_a_conflicting_observation_is_tempered_to_keep_enough_worlds():
    ll = np.linspace(0.0, -5000.0, 10_000)  # one world explains the data far better than any other
    _, beta, ess = posterior.tempered_weights(ll, min_ess=300)
    assert 0.0 < beta < 1.0
    assert ess == pytest.approx(300, rel=0.01)


def test_weighted_quantiles_match_the_unweighted_ones_and_follow_the_weights():
    values = np.arange(1.0, 101.0)
    uniform = np.full(100, 0.01)
    assert posterior.weighted_quantiles(values, uniform, (10, 50, 90)) == [10.0, 50.0, 90.0]
    heavy_top = np.where(values > 80, 1.0, 0.0)
    assert posterior.weighted_quantiles(values, heavy_top / heavy_top.sum(), (10, 50, 90))[0] > 80


def test_the_predictive_percentile_is_uniform_for_draws_from_the_prior_predictive():
    rng = np.random.default_rng(11)
    mu = rng.gamma(2.0, 10.0, size=20_000)
    outputs = {"obs_customers": mu}
    pits = []
    for _ in range(300):
        m = mu[rng.integers(mu.size)]
        y = rng.poisson(rng.gamma(posterior.COUNT_DISPERSION, m / posterior.COUNT_DISPERSION))
        pits.append(posterior.predictive_pit(outputs, "paying_customers", float(y)))
    pits = np.array(pits)
    for level in ledger.LEVELS:
        assert np.mean([ledger.inside(p, level) for p in pits]) == pytest.approx(level, abs=0.08)


@pytest.fixture(scope="module")
def t0():
    request = parse_request(copy.deepcopy(BODY))
    request["run_id"] = "RUN-POST"
    return decide(request, seed=7, verdict_only=True)


def test_observed_strong_adoption_moves_the_forecast_up_and_is_reported(t0):
    config = t0["simulation_config"]
    q = t0["simulation_result"]["quantiles"]["obs_customers"]
    strong = posterior.update(config, {"window_days": 30, "paying_customers": int(q[94]) + 1, "mrr": 135.0 * q[94]})
    weak = posterior.update(config, {"window_days": 30, "paying_customers": 0})
    assert strong["outputs"]["revenue_36"]["posterior"]["p50"] > strong["outputs"]["revenue_36"]["prior"]["p50"]
    assert weak["outputs"]["revenue_36"]["posterior"]["p50"] < weak["outputs"]["revenue_36"]["prior"]["p50"]
    order = ["KILL", "PIVOT", "GO"]
    assert order.index(strong["posterior"]["verdict"]) >= order.index(weak["posterior"]["verdict"])
    assert strong["posterior"]["probabilities"]["GO"] >= weak["posterior"]["probabilities"]["GO"]
    assert {row["input"] for row in strong["inputs"]} >= {"bass_p", "market_size", "wtp_level", "price"}
    assert strong["moved_most"][0]["observation"] in ("paying_customers", "mrr")
    assert strong["predictive"]["paying_customers"]["pit"] > 0.9
    assert len(strong["fans"]["posterior"]["p50"]) == 36


def test_the_update_is_deterministic_and_names_what_it_could_not_use(t0):
    config = t0["simulation_config"]
    obs = {"window_days": 30, "paying_customers": 3, "signups": 40, "visitors": 900, "churned_customers": 0}
    a, b = posterior.update(config, obs), posterior.update(config, obs)
    assert a == b
    assert {u["observation"] for u in a["unused"]} == {"signups", "visitors"}
    with pytest.raises(ValueError, match="no observation the model can predict"):
        posterior.update(config, {"window_days": 30, "signups": 4})


def test_ledger_coverage_counts_and_one_line():
    rows = [{"run_id": "R", "domain": d, "metric": "mrr", "pit": p} for d, p in
            (("saas", 0.5), ("saas", 0.7), ("saas", 0.95), ("retail", 0.99))]
    summary = ledger.coverage(rows)
    assert summary["overall"]["count"] == 4
    assert summary["overall"]["inside_50"] == 0.5 and summary["overall"]["inside_80"] == 0.5
    assert summary["overall"]["inside_95"] == 0.75
    assert summary["by_domain"]["retail"]["count"] == 1
    assert "4 observations" in ledger.one_line(summary)
    assert "no observations" in ledger.one_line(ledger.coverage([]))
    assert math.isclose(ledger.coverage(rows)["by_metric"]["mrr"]["inside_95"], 0.75)


def test_ledger_line_speaks_of_the_domain_when_it_has_scored_observations():
    summary = ledger.coverage([{"run_id": "R", "domain": "saas", "metric": "mrr", "pit": 0.5}])
    assert ledger.one_line(summary, "saas").startswith("Calibration record for saas ideas: 1 observation scored")
    assert ledger.one_line(summary, "retail").startswith("Calibration record: 1 observation scored")


def test_the_forecast_range_shown_is_the_one_the_percentile_reads(t0):
    # An observation at the predictive P90 has a PIT near 0.9: range and percentile describe the same distribution.
    result = posterior.update(t0["simulation_config"], {"window_days": 30, "paying_customers": 1})
    outputs = {"obs_customers": np.asarray(t0["simulation_result"]["quantiles"]["obs_customers"])}
    p10, _, p90 = posterior.predictive_quantiles(outputs, "paying_customers", (10, 50, 90))
    assert posterior.predictive_pit(outputs, "paying_customers", p90) == pytest.approx(0.9, abs=0.05)
    assert posterior.predictive_pit(outputs, "paying_customers", p10) == pytest.approx(0.1, abs=0.05)
    assert len(result["predictive"]["paying_customers"]["prior_quantiles"]) == 3
