import json

import pytest

from smvm.market.priors import DOMAINS, INPUT_NAMES, domain_priors, infer_domain
from smvm.market.services import ingest_market_data, synthesize_competitors, synthesize_personas

pytestmark = pytest.mark.unit


def _request(**idea_overrides):
    idea = {"title": "Shift planner", "description": "B2B SaaS scheduling software for restaurant teams",
            "domain": None, "estimated_tam": 2e9, "estimated_sam": 3e8, "estimated_som": 1e7, "target_avatars": []}
    idea.update(idea_overrides)
    return {"project_id": "P", "run_id": "R", "idea": idea, "evidence": {}, "configuration": {}}


def test_every_domain_has_cited_priors_for_every_input():
    for domain in DOMAINS:
        priors = domain_priors(domain)
        assert set(priors) == set(INPUT_NAMES)
        for spec in priors.values():
            assert spec["low"] <= spec["likely"] <= spec["high"]
            assert spec["source"]


def test_domain_inferred_from_text_or_taken_as_given():
    assert infer_domain("A telehealth app for patients and clinics")[0] == "healthcare"
    assert infer_domain("zzz")[0] == "other"
    inferred = ingest_market_data(_request())["domain"]
    assert (inferred["name"], inferred["how"]) == ("saas", "inferred")
    assert ingest_market_data(_request(domain="retail"))["domain"]["how"] == "given"


def test_evidence_narrows_priors_and_raises_quality():
    plain = ingest_market_data(_request())
    req = _request()
    req["evidence"] = {"cac": 400.0, "price_points": [40, 50, 60],
                       "priors": {"churn": {"low": 0.01, "likely": 0.02, "high": 0.03}}}
    rich = ingest_market_data(req)
    assert rich["inputs"]["cac"]["grade"] == "client"
    assert rich["inputs"]["cac"]["likely"] == 400.0
    assert (rich["inputs"]["cac"]["high"] - rich["inputs"]["cac"]["low"]) < (
        plain["inputs"]["cac"]["high"] - plain["inputs"]["cac"]["low"])
    assert (rich["inputs"]["price"]["low"], rich["inputs"]["price"]["high"]) == (40.0, 60.0)
    assert rich["inputs"]["churn"]["grade"] == "override"
    assert rich["data_quality"]["score"] > plain["data_quality"]["score"]
    json.dumps(rich)


def test_market_defaults_are_flagged_when_client_gives_no_figures():
    md = ingest_market_data(_request(estimated_tam=None, estimated_sam=None, estimated_som=None))
    assert md["market"]["tam"]["source"] == "domain_default"
    assert md["market"]["sam"]["source"] == "derived"
    assert any("not evidence" in f for f in md["market"]["flags"])


@pytest.mark.parametrize("count", [1, 5, 13, 50])
def test_personas_shares_sum_to_one_and_are_deterministic(count):
    req = _request()
    md = ingest_market_data(req)
    a = synthesize_personas(req, md, count=count, seed=3)
    b = synthesize_personas(req, md, count=count, seed=3)
    assert a == b
    assert len(a["personas"]) == count
    assert sum(p["sam_share"] for p in a["personas"]) == pytest.approx(1.0, abs=1e-9)
    assert all(p["wtp"]["low"] < p["wtp"]["likely"] < p["wtp"]["high"] for p in a["personas"])
    assert synthesize_personas(req, md, count=count, seed=4) != a


@pytest.mark.parametrize("count", [0, 51])
def test_persona_count_bounds(count):
    req = _request()
    with pytest.raises(ValueError, match="between 1 and 50"):
        synthesize_personas(req, ingest_market_data(req), count=count, seed=1)


def test_competitors_named_first_then_synthetic_with_top5_and_matrix():
    req = _request()
    req["evidence"] = {"competitors": [{"name": "Acme", "price": 80.0, "share": 0.3, "strengths": ["brand"]}]}
    md = ingest_market_data(req)
    out = synthesize_competitors(req, md, count=10, seed=5)
    assert out == synthesize_competitors(req, md, count=10, seed=5)
    assert out["count"] == 10 and out["named"] == 1
    assert out["competitors"][0]["name"] == "Acme" and out["competitors"][0]["source"] == "client"
    assert len(out["top_5"]) == 5 and out["top_5"][0]["name"] == "Acme"
    assert sum(c["share"] for c in out["competitors"]) <= 1.0 + 1e-9
    assert len(out["positioning_matrix"]["points"]) == 11
    assert synthesize_competitors(req, md, count=0, seed=5)["count"] == 1
