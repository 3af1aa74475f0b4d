"""Mock-mode stages: same names, queues and artifact paths as the real ones, small fixed results marked "mode": "mock".

Integrators get a run that completes in well under a second and exercises every status, callback, gate and results
shape, without the simulation's cost. The intake stages are the real ones (cheap, and they keep validation errors
honest); the simulation, decision and reports are fixed documents of the real shapes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from smvm.gate import RECOMMENDATION_GATE
from smvm.pipeline.stages import STAGES, StageContext, load_bundle
from smvm.pipeline.update_stages import POSTERIOR_DECISION, POSTERIOR_RESULT, UPDATE_STAGES, observations_of
from smvm.reports.render import build_validation_summary

MODE = {"mode": "mock"}
_NOTICE = "MOCK MODE: sandbox output for integration testing, not a market validation."


def _write(ctx: StageContext, relative: str, value: dict[str, Any]) -> None:
    ctx.write_json(relative, {**value, **MODE})


def _wrap(stage_execute: Any, produces: tuple[str, ...]) -> Any:
    """Run a real, cheap stage, then stamp its JSON artifacts with the mode."""

    def execute(ctx: StageContext) -> dict[str, Any]:
        summary = stage_execute(ctx)
        for relative in produces:
            if relative.endswith(".json"):
                _write(ctx, relative, ctx.read_json(relative))
        return {**summary, **MODE}

    return execute


def _simulation(ctx: StageContext) -> dict[str, Any]:
    paths = 100
    _write(ctx, "outputs/simulation.config.json", {
        "run_id": ctx.run["run_id"], "project_id": ctx.run["project_id"], "seed": ctx.seed, "paths": paths,
        "horizon_months": 36, "sampler": "mock", "scenario": "base",
    })
    quantiles = {"mean": 1_200_000.0, "p5": 300_000.0, "p10": 450_000.0, "p50": 1_100_000.0,
                 "p90": 2_100_000.0, "p95": 2_500_000.0}
    _write(ctx, "outputs/simulation.result.json", {
        "seed": ctx.seed, "paths": paths, "horizon_months": 36, "sampler": "mock", "scenario": "base",
        "p_npv_positive": 0.62,
        "metrics": {"npv": quantiles, "arr_36": quantiles, "breakeven_month": {"p50": 22.0}},
        "sensitivity": [], "scenarios": {}, "model_version": "mock",
    })
    return {"paths": paths, "p_npv_positive": 0.62, **MODE}


def _decision(ctx: StageContext) -> dict[str, Any]:
    factors = [
        {"factor": "market_opportunity", "score": 0.7, "evidence": "mock: fixed sandbox value"},
        {"factor": "willingness_to_pay", "score": 0.65, "evidence": "mock: fixed sandbox value"},
        {"factor": "competitive_position", "score": 0.6, "evidence": "mock: fixed sandbox value"},
    ]
    decision = {
        "run_id": ctx.run["run_id"], "project_id": ctx.run["project_id"],
        "recommendation": "PIVOT", "gate_decision": RECOMMENDATION_GATE["PIVOT"], "confidence": 0.5, "score": 60.0, "borderline": False,
        "critical_success_factors": ["Mock mode: run a live validation before deciding"],
        "key_factors": factors,
        "dimensions": [{"name": f["factor"], "score": f["score"] * 100, "weight": 1 / 3, "evidence": f["evidence"]}
                       for f in factors],
        "next_steps": ["Turn SMVM_MOCK_MODE off for a real validation"],
        "risk_assessment": {name: {"level": "medium", "score": 0.5, "drivers": ["mock"]}
                            for name in ("market", "execution", "technical")},
        "knockouts": [], "go_gates_failed": [], "thresholds": {"go": 75.0, "kill": 45.0, "borderline_margin": 2.0},
        "deliverables": {}, "pivot": None, "verdict_stability": None,
    }
    _write(ctx, "outputs/decision.output.json", decision)
    return {"recommendation": "PIVOT", "confidence": 0.5, "score": 60.0, **MODE}


def _reports(ctx: StageContext) -> dict[str, Any]:
    ctx.write_bytes("reports/validation_report.md", f"# Validation report\n\n**{_NOTICE}**\n\nmode: mock\n".encode())
    ctx.write_bytes("reports/analysis_report.pdf", _tiny_pdf(_NOTICE))
    try:
        bundle = load_bundle(ctx)
        bundle["artifacts"] = {**bundle["artifacts"], **ctx.artifacts}
        summary = build_validation_summary(bundle)
    except (KeyError, TypeError, ValueError):
        # The real summary builder reads simulation details the mock result does not carry; keep its core shape.
        summary = {"run_id": ctx.run["run_id"], "validation_id": ctx.run["validation_id"],
                   "project_id": ctx.run["project_id"], "recommendation": "PIVOT", "confidence": 0.5, "score": 60.0,
                   "gate_decision": RECOMMENDATION_GATE["PIVOT"], "artifacts": dict(ctx.artifacts)}
    _write(ctx, "validation_summary.json", {**summary, "notice": _NOTICE})
    return {"reports": ["reports/validation_report.md", "reports/analysis_report.pdf", "validation_summary.json"], **MODE}


def _posterior_update(ctx: StageContext) -> dict[str, Any]:
    observed = {k: v for k, v in observations_of(ctx.run).items() if v is not None}
    _write(ctx, POSTERIOR_RESULT, {"window_days": observed.get("window_days", 30), "observations": observed,
                                   "posterior": {"verdict": "PIVOT"}, "predictive": {}})
    return {"verdict": "PIVOT", **MODE}


def _posterior_decision(ctx: StageContext) -> dict[str, Any]:
    prior = ctx.read_json("outputs/decision.output.json")
    decision = {key: prior[key] for key in ("recommendation", "confidence", "score", "critical_success_factors")}
    decision |= {"source": "posterior", "changed": False, "gate_decision": RECOMMENDATION_GATE["PIVOT"],
                 "verdict_probabilities": {"GO": 0.25, "PIVOT": 0.5, "KILL": 0.25},
                 "prior": {"recommendation": prior["recommendation"], "confidence": prior["confidence"]},
                 "moved_most": [], "observations": []}
    _write(ctx, POSTERIOR_DECISION, decision)
    return {"recommendation": "PIVOT", "confidence": 0.5, "verdict_probabilities": decision["verdict_probabilities"],
            "prior_recommendation": prior["recommendation"],
            "changed": False, "ledger": [], **MODE}


def _tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF without the report renderer (which costs about a second)."""
    stream = f"BT /F1 11 Tf 40 780 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


_REPLACED = {"market_simulation": _simulation, "decision_analysis": _decision, "report_generation": _reports}

MOCK_STAGES = tuple(
    dataclasses.replace(stage, execute=_REPLACED.get(stage.name) or _wrap(stage.execute, stage.produces))
    for stage in STAGES
)
_REPLACED_UPDATE = {"posterior_update": _posterior_update, "posterior_decision": _posterior_decision,
                    "posterior_report": _reports}
MOCK_UPDATE_STAGES = tuple(dataclasses.replace(stage, execute=_REPLACED_UPDATE[stage.name]) for stage in UPDATE_STAGES)
MOCK_STAGES_BY_NAME = {stage.name: stage for stage in (*MOCK_STAGES, *MOCK_UPDATE_STAGES)}
