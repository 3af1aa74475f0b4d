import json
import re

import pytest

from smvm.reports.content import build_report
from smvm.reports.render import build_validation_summary, render_markdown_report, render_pdf_report
from tests.unit.reports.pdftext import text_lines

pytestmark = pytest.mark.unit

SECTIONS = ["The answer", "How the verdict was reached", "What would change the verdict",
            "Revenue and value across plausible futures", "Yearly P&L, cash and funding", "What drives the outcome",
            "Inputs: benchmarks against your evidence", "Market, customers and competitors",
            "Risks, feasibility and scorecard", "Precision of the simulation", "Glossary", "Provenance"]


def pdf_text(pdf: bytes) -> str:
    return "".join(text_lines(pdf))


@pytest.mark.parametrize("kind", ["GO", "KILL", "PIVOT", "NO_EVIDENCE"])
def test_markdown_puts_the_answer_first_then_every_section_in_order(bundles, kind):
    md = render_markdown_report(bundles[kind])
    assert re.findall(r"^## (.+)$", md, flags=re.MULTILINE) == SECTIONS
    answer = md.split("## How the verdict")[0]
    verdict = bundles[kind]["decision"]["recommendation"]
    assert f"**Verdict: {verdict}.**" in answer
    probs = bundles[kind]["decision"]["verdict_probabilities"]
    assert all(f"{k} " in answer for k in probs) and "How sure:" in answer
    assert "### Why: the three facts that drove it" in answer and "### What to do next" in answer
    assert len(re.findall(r"^\d\. ", answer.split("### Why")[1].split("###")[0], flags=re.MULTILINE)) == 3


@pytest.mark.parametrize("kind", ["GO", "KILL", "PIVOT", "NO_EVIDENCE"])
def test_markdown_pdf_and_summary_say_the_same_first_page(bundles, kind):
    bundle = bundles[kind]
    report = build_report(bundle)
    md = render_markdown_report(bundle)
    text = pdf_text(render_pdf_report(bundle))
    summary = build_validation_summary(bundle)
    first = report["summary"]
    assert summary["report"]["summary"] == first
    for sentence in [first["headline"], *first["drivers"], *first["what_would_change_it"], *first["next_steps"]]:
        assert sentence in md
    # The PDF wraps lines, so compare it word by word.
    words = text.split()
    for sentence in [first["headline"], *first["drivers"]]:
        assert " ".join(sentence.split()[:4]) in " ".join(words)
    for number in first["key_numbers"]:
        assert number["value"] in text and summary["key_numbers"][number["name"]] == number["value"]
    assert summary["why"] == first["drivers"] and summary["next_steps"] == first["next_steps"]
    # The gate answer is the one GET /gate gives: the decision's own, never re-derived by the report.
    gate = bundle["decision"]["gate_decision"]
    assert f"**TractionBuild gate: {gate} (" in md and f"TractionBuild gate: {gate}" in " ".join(words)


def test_pdf_is_deterministic_small_and_multi_page(bundles):
    pdf = render_pdf_report(bundles["GO"])
    assert pdf == render_pdf_report(bundles["GO"])
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) < 1_000_000
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) > 3
    assert b"/CreationDate (D:20261128030501" in pdf  # dated by the run, not the clock


def test_pdf_pages_are_never_half_empty(bundles):
    from smvm.reports import pdf as pdf_module

    for kind in ("GO", "KILL", "PIVOT", "NO_EVIDENCE"):
        writer = pdf_module._Writer(build_report(bundles[kind]), "2026-11-28T03:05:01Z")
        writer.render()
        assert writer.fill[:-1] and min(writer.fill[:-1]) > 0.55, (kind, writer.fill)


def test_every_chart_has_a_title_and_a_one_line_caption(bundles):
    report = build_report(bundles["PIVOT"])
    figures = [b for s in report["sections"] for b in s["blocks"] if b["kind"] == "figure"]
    charts = {f["chart"] for f in figures}
    assert {"revenue_fan", "npv_histogram", "cumulative", "cash_fan", "tornado", "variance", "inputs",
            "positioning", "convergence"} <= charts
    assert all(f["title"] and len(f["caption"]) > 40 for f in figures)


def test_summary_is_json_keeps_its_contract_fields_and_leaves_chart_data_out(bundles):
    summary = build_validation_summary(bundles["PIVOT"])
    text = json.dumps(summary)
    assert len(text) < 200_000
    for key in ("run_id", "recommendation", "score", "confidence", "verdict_probabilities", "gate_decision",
                "key_metrics", "next_steps", "provenance", "artifacts"):
        assert key in summary
    figures = [b for s in summary["report"]["sections"] for b in s["blocks"] if b["kind"] == "figure"]
    assert figures and all("data" not in f and f["caption"] for f in figures)
    assert summary["provenance"]["seed"] == 7 and summary["artifacts"] == bundles["PIVOT"]["artifacts"]


def test_reports_survive_missing_optional_analyses(bundle_copy):
    bundle = bundle_copy("PIVOT")
    sim = bundle["simulation_result"]
    for key in ("sensitivity", "scenarios", "fan_charts", "pnl", "breakeven_cdf"):
        sim[key] = None
    sim["quantiles"] = {}
    assert render_pdf_report(bundle).startswith(b"%PDF")
    md = render_markdown_report(bundle)
    assert "## Provenance" in md and "Figure" not in md.split("## Inputs")[0]
