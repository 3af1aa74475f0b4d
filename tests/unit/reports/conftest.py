import copy

import pytest

from smvm.decision.update import analyse_update
from smvm.simulation import posterior
from tests.unit.decision.conftest import eval_body, run

#: Four contrasting ideas of the evaluation set: evidence-backed GO, KILL, borderline-ish PIVOT, no evidence at all.
IDEAS = {"GO": "saas-month_end_close", "KILL": "saas-crowded_crm", "PIVOT": "saas-hr_onboarding_cac",
         "NO_EVIDENCE": "saas-site_meeting_notes"}


def as_bundle(name, stages, seed=7):
    body = eval_body(name)
    return {"run": {"run_id": "RUN-T", "validation_id": "VAL-T-001", "project_id": body["project_id"], "seed": seed,
                    "created_at": "2026-11-28T03:05:01Z", "smvm_version": "1.0.0"},
            **stages, "request": {"idea": {"title": body["business_idea"]["title"]}},
            "artifacts": {"outputs/decision.output.json": "0" * 64}}


@pytest.fixture(scope="session")
def bundles():
    """Full run bundles for the four ideas (computed once per session)."""
    return {kind: as_bundle(name, run(eval_body(name), seed=7, full=True)) for kind, name in IDEAS.items()}


@pytest.fixture
def bundle_copy(bundles):
    """A deep copy to tamper with, so one test's edits never leak into another's."""
    return lambda kind: copy.deepcopy(bundles[kind])


#: T0+30 observation sets, each read off its idea's T0 forecast (``q``: percentiles 1..99 of what the client would
#: observe), with one observation the model cannot use.
OBSERVED = {
    # Three times the forecast's P90 of customers and MRR on a PIVOT, at a low acquisition spend: far outside it.
    "strong": ("PIVOT", lambda q: {"window_days": 30, "paying_customers": int(3 * q["obs_customers"][89]) + 1,
                                   "mrr": 3 * q["obs_mrr"][89], "churned_customers": 0,
                                   "acquisition_spend": q["obs_acquisition_spend"][10], "signups": 400}),
    # Next to nothing on an idea that rests on benchmarks: customers and MRR at the forecast's 3rd percentile.
    "weak": ("NO_EVIDENCE", lambda q: {"window_days": 30, "paying_customers": int(q["obs_customers"][2]),
                                       "mrr": max(q["obs_mrr"][2], 1.0), "trials": 12}),
    # No paying customer at all on an idea that rests on benchmarks.
    "zero": ("NO_EVIDENCE", lambda q: {"window_days": 30, "paying_customers": 0, "churned_customers": 0,
                                       "visitors": 900}),
    # The forecast's own median.
    "middle": ("PIVOT", lambda q: {"window_days": 30, "paying_customers": round(q["obs_customers"][49]),
                                   "acquisition_spend": q["obs_acquisition_spend"][49],
                                   "survey": [{"too_cheap": 5, "cheap": 10, "expensive": 30, "too_expensive": 60}]}),
}


def with_update(bundle, observations):
    """``bundle`` as the reports see it after T0+30: the posterior update and the posterior decision added."""
    updated = copy.deepcopy(bundle)
    updated["posterior"] = posterior.update(bundle["simulation_config"], observations)
    updated["posterior_decision"] = analyse_update(bundle["decision"], updated["posterior"])
    return updated


@pytest.fixture(scope="session")
def updated_bundles(bundles):
    """The observation sets above applied to their ideas (computed once per session)."""
    found = {}
    for case, (kind, observe) in OBSERVED.items():
        found[case] = with_update(bundles[kind], observe(bundles[kind]["simulation_result"]["quantiles"]))
    return found
