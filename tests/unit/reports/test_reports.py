import json
import re

import pytest

from benchmarks.ideas import PASSED_VALIDATION, evaluate_idea, load_ideas
from smvm.reports.services import build_validation_summary, render_markdown_report, render_pdf_report

pytestmark = pytest.mark.unit

SECTIONS = ["Executive summary", "Demand", "Personas", "Competition", "Technical", "Financial", "Risk", "Decision",
            "Assumptions and priors", "Provenance"]


@pytest.fixture(scope="module")
def bundle():
    body = dict(load_ideas())["mid_legal_docs"]
    run = evaluate_idea(body, seed=5, paths=8192, full=True, threads=2, chunk_size=2048)
    return {"run": {"run_id": "RUN-T", "validation_id": "VAL-T-001", "project_id": body["project_id"], "seed": 5,
                    "created_at": "2026-11-28T03:05:01Z", "smvm_version": "1.0.0"},
            "validation": PASSED_VALIDATION, **run,
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
