"""A few of `make eval`'s metamorphic relations as tests, on ideas of the evaluation set (make eval runs them all)."""

import pytest

from benchmarks import evaluate
from tests.unit.decision.conftest import eval_body, run

pytestmark = pytest.mark.unit
IDEAS = ["saas-month_end_close", "finance-bank_reconciliation", "saas-hr_onboarding_cac", "saas-crowded_crm"]


def _summary(body, seed=evaluate.BASE_SEED):
    dec = run(body, seed=seed)["decision"]
    return {"refused": False, "verdict": dec["recommendation"], "score": dec["score"],
            "probabilities": dec["verdict_probabilities"], "borderline": dec["borderline"]}


@pytest.fixture(scope="module")
def bases():
    return {name: _summary(eval_body(name)) for name in IDEAS}


@pytest.mark.parametrize("name", IDEAS)
def test_wording_and_key_order_change_nothing(bases, name):
    body = eval_body(name)
    for _, paraphrase in evaluate._paraphrases(body):
        assert evaluate._compare("invariant", bases[name], _summary(paraphrase)) is None
    assert evaluate._compare("exact", bases[name], _summary(evaluate._reverse_keys(body))) is None


@pytest.mark.parametrize("name", IDEAS)
def test_negative_evidence_never_helps(bases, name):
    body = eval_body(name)
    typical, cac = evaluate._benchmarks(body)
    for label, worse in evaluate._negative_evidence(body, typical, cac):
        assert evaluate._compare("not_better", bases[name], _summary(worse)) is None, label


@pytest.mark.parametrize("name", IDEAS[:2])
def test_a_bigger_market_never_hurts_and_a_trivial_competitor_barely_matters(bases, name):
    body = eval_body(name)
    assert evaluate._compare("not_worse", bases[name], _summary(evaluate._scaled_market(body))) is None
    assert evaluate._compare("proportional", bases[name], _summary(evaluate._with_trivial_competitor(body))) is None


def test_the_checks_detect_a_broken_relation():
    base = {"refused": False, "verdict": "GO", "score": 80.0, "probabilities": {}, "borderline": False}
    assert evaluate._compare("not_better", {**base, "verdict": "PIVOT", "score": 60.0}, base)
    assert evaluate._compare("not_worse", base, {**base, "verdict": "KILL"})
    assert evaluate._compare("invariant", base, {**base, "score": 81.5})
    assert evaluate._compare("proportional", base, {**base, "verdict": "KILL", "score": 30.0})
