import numpy as np
import pytest

from smvm.market import evidence as ev
from smvm.market.priors import domain_priors
from smvm.simulation.distributions import cdf, ppf

pytestmark = pytest.mark.unit

CHURN_PRIOR = domain_priors("saas")["churn"]  # PERT 1 % .. 3 % .. 7 %


def test_beta_from_moments_round_trips():
    a, b = ev.beta_from_moments(0.04, 0.01)
    mean = a / (a + b)
    sd = (a * b / ((a + b) ** 2 * (a + b + 1))) ** 0.5
    assert mean == pytest.approx(0.04) and sd == pytest.approx(0.01)


@pytest.mark.parametrize(("observed", "customers", "months"), [(0.10, 20, 3), (0.10, 500, 12), (0.005, 400, 12)])
def test_churn_posterior_moves_from_the_prior_towards_the_data(observed, customers, months):
    prior_mean, _ = ev.pert_moments(CHURN_PRIOR)
    post = ev.churn_posterior(CHURN_PRIOR, {"monthly_churn": observed, "customers": customers, "months": months})
    mean = post["a"] / (post["a"] + post["b"])
    assert min(prior_mean, observed) < mean < max(prior_mean, observed)
    assert post["low"] < post["likely"] < post["high"]
    # The P10 / P90 it reports are those of the distribution the simulation draws from.
    assert float(cdf(post, np.array([post["low"]]))[0]) == pytest.approx(0.1, abs=1e-6)
    assert float(ppf(post, np.array([0.9]))[0]) == pytest.approx(post["high"], rel=1e-4)
    assert "Client retention" in post["source"]


def test_more_observations_pull_harder_and_narrow_the_posterior():
    few = ev.churn_posterior(CHURN_PRIOR, {"monthly_churn": 0.12, "customers": 10, "months": 2})
    many = ev.churn_posterior(CHURN_PRIOR, {"monthly_churn": 0.12, "customers": 1000, "months": 12})
    assert many["likely"] > few["likely"]
    assert many["likely"] == pytest.approx(0.12, rel=0.05)
    assert many["high"] - many["low"] < few["high"] - few["low"]


def test_a_cohort_curve_is_read_as_churned_customers_over_customer_months():
    churned, at_risk, _ = ev.churn_observations({"cohort": [{"month": 6, "retained": 0.7}], "cohort_size": 100})
    assert churned == pytest.approx(30.0)
    assert at_risk == pytest.approx(100 * 6 * 0.85)


@pytest.mark.parametrize("customers", [0, 3, 420])
def test_traction_spec_is_the_gamma_posterior_of_the_expected_count(customers):
    spec = ev.traction_spec({"customers": customers, "monthly_revenue": customers * 50.0, "months": 12},
                            domain_priors("saas")["bass_p"])
    assert spec["distribution"] == "gamma" and spec["shape"] == customers + 0.5
    draws = ppf(spec, (np.arange(20_000) + 0.5) / 20_000)
    assert draws.mean() == pytest.approx(customers + 0.5, rel=0.02, abs=0.02)
    assert spec["prior"]["distribution"] == "pert"


def test_van_westendorp_crossings_on_a_known_survey():
    survey = [{"too_cheap": 5, "cheap": 10, "expensive": 20, "too_expensive": 40}] * 10
    vw = ev.van_westendorp(survey)
    assert vw["respondents"] == 10
    assert vw["wtp_p50"] == pytest.approx((20 * 40) ** 0.5)
    low, mid, high = ev.survey_price_range(vw)
    assert low <= mid <= high


def test_blended_cac_weights_channels_by_their_share():
    assert ev.blended_cac({"channels": [{"name": "a", "cac": 100, "share": 0.75},
                                        {"name": "b", "cac": 500, "share": 0.25}]})[0] == pytest.approx(200.0)
    assert ev.blended_cac({"cac": 42.0})[0] == 42.0
    assert ev.blended_cac({}) is None
