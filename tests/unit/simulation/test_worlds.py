import copy

import numpy as np
import pytest

from smvm.decision import rules
from smvm.intake.validation import parse_request
from smvm.pipeline.decide import decide
from smvm.simulation.worlds import WORLD_BLOCK
from tests.unit.simulation.conftest import BODY

pytestmark = pytest.mark.unit


def _verdict(body, *, seed=7, full=False):
    request = parse_request(copy.deepcopy(body))
    request["run_id"] = "RUN-W"
    return decide(request, seed=seed, verdict_only=not full)["simulation_result"]["verdict"]


def _body(**top):
    body = copy.deepcopy(BODY)
    body.update(top)
    return body


UNIT_LOSS = {"financials": {"planned_price": 10.0, "gross_margin": 0.5, "monthly_burn": 60_000.0},
             "retention": {"monthly_churn": 0.12, "customers": 800, "months": 6},
             "evidence": {"cac": 300.0, "traction": {"customers": 800, "monthly_revenue": 8_000.0, "months": 6}}}


def test_probabilities_are_shares_of_worlds_and_the_verdict_is_the_middle_world():
    v = _verdict(BODY)
    assert sum(v["probabilities"].values()) == pytest.approx(1.0)
    assert v["worlds"] % WORLD_BLOCK == 0 and v["worlds"] >= WORLD_BLOCK
    assert rules.band(v["score"]) == v["verdict"]
    expected = "GO" if v["probabilities"]["GO"] >= 0.5 else "KILL" if v["probabilities"]["KILL"] > 0.5 else "PIVOT"
    assert v["verdict"] == expected
    assert v["borderline"] == (v["runner_up"]["probability"] >= rules.BORDERLINE_RUNNER_UP)


def test_a_verdict_only_run_gives_the_full_runs_verdict():
    fast, full = _verdict(BODY), _verdict(BODY, full=True)
    for key in ("verdict", "score", "probabilities", "worlds"):
        assert fast[key] == full[key], key


def test_a_kill_resting_only_on_benchmarks_is_at_most_a_pivot_that_names_the_evidence():
    # No evidence at all and a small market: most worlds fail, but only on benchmarks nobody confirmed.
    body = _body(evidence={})
    body["business_idea"].update(estimated_tam=1e8, estimated_sam=2e7, estimated_som=1e6)
    v = _verdict(body)
    assert v["raw_probabilities"]["KILL"] > 0.5
    assert v["verdict"] == "PIVOT" and v["probabilities"]["KILL"] < 0.5
    assert v["rescue"]["needs_evidence"] > 0.3
    assert v["needs_evidence"] and all(e["input"] in rules_inputs() for e in v["needs_evidence"])


def rules_inputs():
    from smvm.market.priors import INPUT_NAMES

    return set(INPUT_NAMES)


def test_a_kill_on_the_clients_own_unit_economics_stays_a_kill():
    v = _verdict(_body(**UNIT_LOSS))
    assert v["verdict"] == "KILL" and v["probabilities"]["KILL"] > 0.9
    assert v["knockouts"]["unit_economics"]["confirmed_share"] > 0.9
    assert v["score"] < rules.KILL_THRESHOLD


def test_a_single_change_that_fixes_the_plan_makes_it_a_pivot():
    # Buyers call the planned price far too high; at the price they accept, the economics work.
    survey = [{"too_cheap": 20, "cheap": 40, "expensive": 70, "too_expensive": 100}] * 30
    body = _body(financials={"planned_price": 600.0, "gross_margin": 0.8, "monthly_burn": 50_000.0},
                 evidence={"cac": 300.0, "wtp_survey": survey})
    v = _verdict(body)
    assert v["raw_probabilities"]["KILL"] > 0.9
    assert v["verdict"] == "PIVOT"
    assert v["rescue"]["levers"]["price_survey"] > 0.5
    assert v["suggestions"][0]["lever"] == "plan"
    assert {s["lever"] for s in v["suggestions"]} >= {"price_survey", "channel", "lean", "retention"}


def test_a_failed_t0_check_is_a_kill_in_every_world():
    body = _body(financials={"gross_margin": -0.2})
    v = _verdict(body)
    assert v["verdict"] == "KILL" and v["probabilities"]["KILL"] == 1.0
    assert v["knockouts"]["t0_failed"]["confirmed_share"] == 1.0


def test_worlds_and_verdict_are_reproducible_and_seed_stable_when_confident():
    a, b = _verdict(_body(**UNIT_LOSS)), _verdict(_body(**UNIT_LOSS))
    assert a == b
    other = _verdict(_body(**UNIT_LOSS), seed=99)
    assert other["verdict"] == a["verdict"]  # confidence is far above 0.8, so no seed may flip it
    assert np.isclose(other["probabilities"]["KILL"], a["probabilities"]["KILL"], atol=0.05)
