import json

import pytest

from smvm.decision import rules
from smvm.decision.analysis import EVIDENCE_ASKS, analyse_decision
from tests.unit.decision.conftest import eval_body, run

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("verdict", ["GO", "PIVOT", "KILL"])
def test_decision_document_shape(full_runs, verdict):
    dec = full_runs[verdict]["decision"]
    json.dumps(dec)
    assert dec["recommendation"] == verdict
    assert dec["gate_decision"] == {"GO": "proceed", "PIVOT": "proceed", "KILL": "reject"}[verdict]
    probs = dec["verdict_probabilities"]
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    assert dec["confidence"] == probs[verdict]
    assert rules.band(dec["score"]) == verdict  # score and verdict agree
    assert dec["thresholds"]["score"]["to_go"] == pytest.approx(rules.GO_THRESHOLD - dec["score"], abs=0.01)
    assert [d["name"] for d in dec["dimensions"]] == list(rules.WEIGHTS)
    assert all(0.0 <= f["score"] <= 1.0 and f["evidence"] for f in dec["key_factors"])
    assert dec["why"] and dec["critical_success_factors"] and dec["next_steps"]
    assert set(dec["risk_assessment"]) == {"market", "technical", "execution"}
    assert set(dec["deliverables"]) == {"market_analysis", "financial_projections", "technical_validation",
                                        "risk_assessment"}
    assert all(p["synthetic"] for p in dec["deliverables"]["market_analysis"]["segmentation"])


def test_every_input_the_evidence_touched_shows_prior_and_posterior_with_the_evidence_as_source(full_runs):
    dec = full_runs["GO"]["decision"]
    rows = {row["input"]: row for row in dec["evidence"]["inputs"]}
    assert {"churn", "bass_p", "price", "cac", "opex", "gross_margin", "market_size"} <= set(rows)
    churn = rows["churn"]
    assert churn["prior"]["source"] != churn["posterior"]["source"]
    assert churn["posterior"]["source"].startswith("Client retention")
    assert churn["prior"]["likely"] < churn["posterior"]["likely"] or churn["posterior"]["likely"] < 0.05


def test_a_kill_explains_the_clients_own_failing_must_meet(full_runs):
    dec = full_runs["KILL"]["decision"]
    assert any(k["rule"] == "unit_economics" and k["confirmed_share"] > 0.9 for k in dec["knockouts"])
    assert any("own figures" in reason for reason in dec["why"])
    assert dec["next_steps"][0].startswith("Stop investment")


def test_a_pivot_names_the_change_and_shows_every_simulated_one(full_runs):
    dec = full_runs["PIVOT"]["decision"]
    pivot = dec["pivot"]
    assert "survey" in pivot["suggested_change"]
    assert pivot["suggestions"][0]["lever"] == "plan"
    assert dec["next_steps"][0].startswith("Test the change")


def test_needs_evidence_asks_in_the_requests_own_terms():
    runs = run(eval_body("saas-site_meeting_notes"))
    dec = runs["decision"]
    assert dec["recommendation"] == "PIVOT" and dec["needs_evidence"]
    assert all(ask["evidence"] == EVIDENCE_ASKS[ask["input"]] for ask in dec["needs_evidence"])


def test_a_failed_business_logic_check_reaches_the_decision():
    stages = run(eval_body("other-laundry_negative_margin"))
    assert stages["validation"]["business_logic_check"] == "failed"
    dec = stages["decision"]
    assert dec["recommendation"] == "KILL"
    assert any("gross margin" in reason.lower() for reason in dec["why"])
    redo = analyse_decision({"project_id": "P"}, stages["validation"], stages["market_data"], stages["personas"],
                            stages["competitors"], stages["simulation_result"])
    assert redo["recommendation"] == "KILL"
