import copy

import pytest

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
