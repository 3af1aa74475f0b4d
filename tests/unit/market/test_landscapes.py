import math

import numpy as np
import pytest

from smvm.market.competitors import synthesize_competitors
from smvm.market.ingestion import ingest_market_data
from smvm.market.personas import LANDSCAPES, synthesize_personas
from tests.unit.market.conftest import request_for

pytestmark = pytest.mark.unit


def _both(request, seed=3, personas=5, competitors=10):
    md = ingest_market_data(request)
    return (synthesize_personas(request, md, count=personas, seed=seed),
            synthesize_competitors(request, md, count=competitors, seed=seed))


@pytest.mark.parametrize("count", [1, 5, 13, 50])
def test_personas_are_synthetic_deterministic_and_their_landscapes_sum_to_one(count):
    req = request_for()
    md = ingest_market_data(req)
    a = synthesize_personas(req, md, count=count, seed=3)
    assert a == synthesize_personas(req, md, count=count, seed=3)
    assert a["synthetic"] and all(p["synthetic"] for p in a["personas"])
    assert sum(p["sam_share"] for p in a["personas"]) == pytest.approx(1.0, abs=1e-6)
    mix = np.array(a["landscapes"]["sam_share"])
    assert mix.shape == (count, LANDSCAPES)
    assert np.allclose(mix.sum(axis=0), 1.0, atol=1e-5)
    assert synthesize_personas(req, md, count=count, seed=4)["landscapes"] != a["landscapes"]


@pytest.mark.parametrize("count", [0, 51])
def test_persona_count_bounds(count):
    req = request_for()
    with pytest.raises(ValueError, match="between 1 and 50"):
        synthesize_personas(req, ingest_market_data(req), count=count, seed=1)


def test_landscapes_come_from_the_seed_and_the_facts_never_from_the_text():
    plain = _both(request_for())
    renamed = _both(request_for(title="Project Falcon", description="A rota builder for restaurants, "
                                "drawing on forecasts of sales and on when staff can work."))
    assert plain == renamed


def test_named_competitors_keep_their_shares_and_synthetic_ones_are_marked():
    req = request_for(evidence={"competitors": [{"name": "Acme", "price": 80.0, "share": 0.3,
                                                 "strengths": ["brand"]}]})
    _, comps = _both(req)
    assert comps["count"] == 10 and comps["named"] == 1 and comps["synthetic"] == 9
    first = comps["competitors"][0]
    assert (first["name"], first["share"], first["synthetic"]) == ("Acme", 0.3, False)
    assert all(c["synthetic"] for c in comps["competitors"][1:])
    assert all(p["synthetic"] == (p["id"] not in ("C01", "US")) for p in comps["positioning_matrix"]["points"])
    assert "synthetic" in comps["method"]
    assert synthesize_competitors(req, ingest_market_data(req), count=0, seed=5)["count"] == 1


def test_the_fit_reproduces_the_named_shares_exactly():
    req = request_for(evidence={"competitors": [{"name": "A", "share": 0.5, "price": 90.0},
                                                {"name": "B", "share": 0.3, "price": 60.0}]})
    _, comps = _both(req, competitors=2)
    land = comps["landscapes"]
    for base, const, outside in zip(land["log_base"], land["comp_const"], land["outside_share"], strict=True):
        # Berry inversion: e^δ_j = s_j / s_0, so the competitors' attraction totals their shares over the outside's.
        assert const == pytest.approx(0.8 / outside)
        assert math.exp(base) * outside == pytest.approx(0.4)  # a typical competitor: the average share
    assert land["reference_price"][0] == pytest.approx((0.5 * 90 + 0.3 * 60) / 0.8)


def test_a_one_percent_competitor_has_a_one_percent_effect_whatever_its_price():
    base = _both(request_for())[1]["landscapes"]
    tiny = _both(request_for(evidence={"competitors": [{"name": "Tiny", "share": 0.01, "price": 0.0}]}))[1]
    assert tiny["landscapes"]["count"] == base["count"]
    # The unknown part of the market is redrawn around the new competitor, so compare landscape averages.
    for key in ("comp_const", "log_base"):
        assert np.mean(tiny["landscapes"][key]) == pytest.approx(np.mean(base[key]), rel=0.1, abs=0.1)
