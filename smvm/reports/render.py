"""Render the markdown report, the PDF report and the validation summary from a run bundle.

All three come from one ``content.build_report(bundle)``, so they say the same things with the same numbers.
"""

from __future__ import annotations

from typing import Any

from smvm.contracts import ReportBundle
from smvm.reports import markdown, pdf
from smvm.reports.content import build_report


def render_markdown_report(bundle: ReportBundle) -> str:
    """The ``reports/validation_report.md`` text: the founder's answer first, the analyst's sections after it."""
    return markdown.render(build_report(bundle))


def render_pdf_report(bundle: ReportBundle) -> bytes:
    """``reports/analysis_report.pdf``: the same content as the markdown, with its charts drawn."""
    return pdf.render(build_report(bundle), (bundle.get("run") or {}).get("created_at"))


def _without_chart_data(section: dict[str, Any]) -> dict[str, Any]:
    # The numbers a chart draws are in simulation.result.json already; the summary keeps its title and caption.
    return {**section, "blocks": [{k: v for k, v in block.items() if k != "data"} for block in section["blocks"]]}


def build_validation_summary(bundle: ReportBundle) -> dict[str, Any]:
    """The ``validation_summary.json`` document: verdict, the report's first page and sections, headline numbers,
    data quality and provenance.

    The contract fields (``recommendation``, ``gate_decision``, ...) are SMVM's recommendation now, as GET /gate
    answers it: the posterior decision's after T0+30 observations, else the T0 one (``final_recommendation.source``
    says which); ``first_30_days`` is the update behind it and ``calibration`` the ledger's one line, each only when
    the bundle carries it.
    """
    run, dec, sim, md = bundle["run"], bundle["decision"], bundle["simulation_result"], bundle["market_data"]
    verdict = bundle.get("posterior_decision") if bundle.get("posterior") else None
    verdict = verdict or dec
    m = sim["metrics"]
    report = build_report(bundle)
    first = report["summary"]
    optional = {key: report[key] for key in ("first_30_days", "calibration") if report[key] is not None}
    return {
        "run_id": run.get("run_id"),
        "validation_id": run.get("validation_id"),
        "project_id": run.get("project_id"),
        "created_at": run.get("created_at"),
        "title": report["title"],
        "domain": md["domain"]["name"],
        "recommendation": verdict["recommendation"],
        "score": verdict["score"],
        "confidence": verdict["confidence"],
        "verdict_probabilities": verdict["verdict_probabilities"],
        "borderline": verdict["borderline"],
        "gate_decision": verdict["gate_decision"],
        "final_recommendation": report["final_recommendation"],
        **optional,
        "headline": first["headline"],
        "why": first["drivers"],
        "what_would_change_it": first["what_would_change_it"],
        "needs_evidence": [ask["evidence"] for ask in dec["needs_evidence"]],
        "key_numbers": {k["name"]: k["value"] for k in first["key_numbers"]},
        "key_metrics": {k: m[k] for k in ("p_npv_positive", "npv_p50", "arr_36_p50", "ltv_cac_p50",
                                          "funding_need_p50", "p_breakeven_24", "p_reach_som")},
        "market": {k: md["market"][k]["value"] for k in ("tam", "sam", "som")},
        "data_quality": md["data_quality"]["score"],
        "critical_success_factors": dec["critical_success_factors"],
        "next_steps": first["next_steps"],
        "suggested_pivot": (dec.get("pivot") or {}).get("suggested_change"),
        "risk_levels": {k: v["level"] for k, v in dec["risk_assessment"].items()},
        "report": {"summary": first, "sections": [_without_chart_data(s) for s in report["sections"]],
                   "glossary": report["glossary"]},
        "provenance": {"seed": sim["seed"], "sampler": sim["sampler"], "paths": sim["paths"]["used"],
                       "model_version": sim["model_version"], "smvm_version": run.get("smvm_version"),
                       "priors_version": md["priors_version"]},
        "artifacts": dict(sorted((bundle.get("artifacts") or {}).items())),
    }
