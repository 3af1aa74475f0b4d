import json

import pytest

from smvm.market.ingestion import ingest_market_data
from smvm.market.priors import DOMAINS, INPUT_NAMES, domain_priors, infer_domain
from tests.unit.market.conftest import request_for

pytestmark = pytest.mark.unit

TRACTION = {"traction": {"customers": 120, "monthly_revenue": 12_000.0, "months": 9}}


def test_every_domain_has_cited_priors_for_every_input():
    for domain in DOMAINS:
        priors = domain_priors(domain)
        assert set(priors) == set(INPUT_NAMES)
        for spec in priors.values():
            assert spec["low"] <= spec["likely"] <= spec["high"]
            assert spec["source"]
            # The report cites sources a reader can find, never a path of this project's own notes.
            assert "shared/reference" not in spec["source"]


def test_domain_is_given_or_inferred_from_the_description_never_from_the_title():
    assert infer_domain("A telehealth app for patients and clinics")[0] == "healthcare"
    assert infer_domain("zzz")[0] == "other"
    assert ingest_market_data(request_for())["domain"]["how"] == "given"
    plain = request_for(domain=None)
    titled = request_for(domain=None, title="Telehealth clinic payments bank")
    assert ingest_market_data(plain)["domain"] == ingest_market_data(titled)["domain"]


def test_without_evidence_every_input_is_a_benchmark_with_its_prior_beside_it():
    md = ingest_market_data(request_for())
    for name, spec in md["inputs"].items():
        assert spec["prior"]["source"]
        if name != "market_size":  # the client's SAM is evidence
            assert spec["grade"] == "benchmark" and spec["evidence"] is None
    assert md["inputs"]["market_size"]["grade"] == "client"
    json.dumps(md)


def test_a_stated_price_is_the_price_and_survey_or_points_do_not_override_it():
    md = ingest_market_data(request_for(financials={"planned_price": 39.0},
                                        evidence={"price_points": [99, 149]}))
    price = md["inputs"]["price"]
    assert (price["low"], price["likely"], price["high"]) == (39.0, 39.0, 39.0)
    assert price["grade"] == "client" and "financials.planned_price" in price["source"]
    assert any(u["field"] == "evidence.price_points" for u in md["evidence"]["unused"])


def test_stated_burn_replaces_the_benchmark_operating_cost():
    md = ingest_market_data(request_for(financials={"monthly_burn": 40_000.0}))
    opex = md["inputs"]["opex"]
    assert opex["likely"] == 40_000.0 and opex["grade"] == "client"
    assert opex["prior"]["likely"] != 40_000.0
    assert "stated monthly burn" in opex["source"]


def test_benchmark_operating_cost_grows_slower_than_the_market_before_launch_only():
    small = ingest_market_data(request_for(estimated_sam=3e7, estimated_som=1e6))["inputs"]["opex"]["likely"]
    large = ingest_market_data(request_for(estimated_sam=3e8, estimated_som=1e7))["inputs"]["opex"]["likely"]
    assert small < large < 10 * small
    live_small = ingest_market_data(request_for(estimated_sam=3e7, estimated_som=1e6, evidence=TRACTION))
    live_large = ingest_market_data(request_for(estimated_sam=3e8, estimated_som=1e7, evidence=TRACTION))
    assert live_small["inputs"]["opex"]["likely"] == live_large["inputs"]["opex"]["likely"]


def test_retention_updates_churn_by_bayes_and_cites_the_evidence():
    md = ingest_market_data(request_for(retention={"monthly_churn": 0.09, "customers": 300, "months": 6}))
    churn = md["inputs"]["churn"]
    assert churn["distribution"] == "beta" and churn["grade"] == "client"
    assert churn["prior"]["likely"] < churn["likely"] < 0.09
    assert "9.0% monthly churn" in churn["source"]


def test_traction_calibrates_adoption_price_and_willingness_to_pay():
    md = ingest_market_data(request_for(evidence=TRACTION))
    assert md["inputs"]["bass_p"]["distribution"] == "gamma" and md["inputs"]["bass_p"]["months"] == 9
    assert md["inputs"]["price"]["likely"] == pytest.approx(100.0)
    assert md["willingness_to_pay"]["source"] == "traction"
    assert md["inputs"]["upfront_cost"]["likely"] == 0.0  # the product is on sale: its build is spent
    assert md["facts"]["product_live"] is True


def test_what_customers_pay_outranks_a_survey_for_the_price_and_a_survey_never_counts_the_market():
    survey = [{"too_cheap": 5, "cheap": 10, "expensive": 20, "too_expensive": 30}] * 8
    both = ingest_market_data(request_for(evidence={**TRACTION, "wtp_survey": survey}))
    assert both["inputs"]["price"]["likely"] == pytest.approx(100.0)
    assert both["willingness_to_pay"]["source"] == "survey"
    only_survey = ingest_market_data(request_for(evidence={"wtp_survey": survey}))
    plain = ingest_market_data(request_for())
    assert only_survey["inputs"]["price"]["likely"] < 30.0
    assert only_survey["market"]["sam_accounts"] == plain["market"]["sam_accounts"]


def test_willingness_to_pay_without_evidence_sits_between_the_price_and_the_category():
    cheap = ingest_market_data(request_for(financials={"planned_price": 20.0}))["willingness_to_pay"]
    dear = ingest_market_data(request_for(financials={"planned_price": 2000.0}))["willingness_to_pay"]
    typical = domain_priors("saas")["price"]["likely"]
    assert cheap["source"] == dear["source"] == "benchmark"
    assert 20.0 < cheap["median"] < typical < dear["median"] < 2000.0


def test_named_competitors_explaining_little_of_the_market_leave_competitor_strength_a_benchmark():
    small = ingest_market_data(request_for(evidence={"competitors": [{"name": "A", "share": 0.01, "price": 0}]}))
    large = ingest_market_data(request_for(evidence={"competitors": [{"name": "A", "share": 0.6, "price": 50}]}))
    assert small["inputs"]["competitor_strength"]["grade"] == "benchmark"
    assert large["inputs"]["competitor_strength"]["grade"] == "client"


def test_overrides_win_and_the_evidence_they_supersede_is_listed_as_unused():
    md = ingest_market_data(request_for(retention={"monthly_churn": 0.05, "customers": 100, "months": 6},
                                        evidence={"priors": {"churn": {"low": 0.01, "likely": 0.02, "high": 0.03}}}))
    assert md["inputs"]["churn"]["grade"] == "override"
    assert any(u["field"] == "retention" for u in md["evidence"]["unused"])


def test_wording_never_changes_a_number():
    plain = ingest_market_data(request_for())
    worded = ingest_market_data(request_for(
        title="Acme v2", description="Our hardware device uses AI and a blockchain API with real-time sync to "
                                     "every CRM; 40 platforms are live; teams of founders with 20 years."))
    assert worded["inputs"] == plain["inputs"]
    assert worded["technical"]["complexity"] == plain["technical"]["complexity"]
    assert worded["technical"]["hints"]  # the words only become hints to state the facts


def test_stated_technology_facts_change_the_profile():
    md = ingest_market_data(request_for(technology={"hardware": True, "regulatory_approval": True,
                                                    "integrations": 4}))
    tech = md["technical"]
    assert tech["stated"] and tech["launch_delay_months"] == pytest.approx(4 + 9 + 1)
    assert md["inputs"]["upfront_cost"]["likely"] > md["inputs"]["upfront_cost"]["prior"]["likely"]
    assert md["inputs"]["gross_margin"]["likely"] < md["inputs"]["gross_margin"]["prior"]["likely"]
