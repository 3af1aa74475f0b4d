import json
import re

import pytest

from smvm.reports.services import build_validation_summary, render_markdown_report, render_pdf_report
from tests.unit.decision.conftest import eval_body, run

pytestmark = pytest.mark.unit

SECTIONS = ["Executive summary", "Demand", "Personas (synthetic)", "Competition", "Technical", "Financial", "Risk", "Decision",
            "Assumptions and priors", "Provenance"]


@pytest.fixture(scope="module")
def bundle():
    body = eval_body("saas-hr_onboarding_cac")
    stages = run(body, seed=5, full=True)
    return {"run": {"run_id": "RUN-T", "validation_id": "VAL-T-001", "project_id": body["project_id"], "seed": 5,
                    "created_at": "2026-11-28T03:05:01Z", "smvm_version": "1.0.0"},
            **stages, "request": {"idea": {"title": body["business_idea"]["title"]}},
            "artifacts": {"outputs/decision.output.json": "0" * 64}}


def test_markdown_has_every_section_in_order_with_summary_first(bundle):
    md = render_markdown_report(bundle)
    headings = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    assert headings == SECTIONS
    assert md.startswith("# Validation report: ")
    assert bundle["decision"]["recommendation"] in md.split("## Demand")[0]
    assert "0" * 64 in md and "seed 5" in md
    for spec in bundle["market_data"]["inputs"].values():
        assert spec["source"].split("[")[0].strip()[:30] in md


def test_markdown_shows_verdict_probabilities_prior_against_evidence_and_synthetic_labels(bundle):
    md = render_markdown_report(bundle)
    summary = md.split("## Demand")[0]
    probs = bundle["decision"]["verdict_probabilities"]
    assert f"P(GO) {probs['GO']:.0%}" in summary and "P(KILL)" in summary
    evidence = md.split("### What your evidence changed")[1].split("\n\n")[1]
    assert "| churn |" in evidence and "observed 3.5% monthly churn" in evidence
    assert "| CAC |" not in evidence  # inputs keep their names; the evidence column carries the client's words
    competition = md.split("## Competition")[1].split("## Technical")[0]
    assert "synthetic" in competition and "invented, not real companies" in competition
    assert "(synthetic)" in md.split("## Personas (synthetic)")[0] or "segment (synthetic)" in md


def test_pdf_is_real_and_multi_page(bundle):
    pdf = render_pdf_report(bundle)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) > 1
    assert pdf.rstrip().endswith(b"%%EOF")


def test_pdf_survives_missing_optional_analyses(bundle):
    lean = {**bundle, "simulation_result": {**bundle["simulation_result"], "sensitivity": None, "scenarios": None}}
    assert render_pdf_report(lean).startswith(b"%PDF")
    assert "## Provenance" in render_markdown_report(lean)


def test_summary_is_json_and_carries_verdict_and_provenance(bundle):
    summary = build_validation_summary(bundle)
    json.dumps(summary)
    assert summary["recommendation"] == bundle["decision"]["recommendation"]
    assert summary["provenance"]["seed"] == 5
    assert summary["artifacts"] == bundle["artifacts"]
