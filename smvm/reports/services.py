"""Render the markdown report, the PDF report with charts, and the validation summary from a run bundle."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from smvm.formatting import money, pct
from smvm.reports import charts


def _months(x: float) -> str:
    return ">36" if x > 36 else f"{x:.0f}"


def _title(bundle: dict[str, Any]) -> str:
    return str(((bundle.get("request") or {}).get("idea") or {}).get("title") or "Untitled idea")


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header))] + [_row(r) for r in rows]


def render_markdown_report(bundle: dict[str, Any]) -> str:
    """The ``reports/validation_report.md`` text: executive summary first, provenance last."""
    run, dec = bundle["run"], bundle["decision"]
    sim, md = bundle["simulation_result"], bundle["market_data"]
    personas, comps = bundle["personas"], bundle["competitors"]
    m, out = sim["metrics"], sim["outputs"]
    idea = (bundle.get("request") or {}).get("idea") or {}
    lines: list[str] = [f"# Validation report: {_title(bundle)}", ""]
    lines += ["## Executive summary", "",
              f"**Recommendation: {dec['recommendation']}** (score {dec['score']:.1f}/100, confidence "
              f"{dec['confidence']:.2f}{', borderline' if dec['borderline'] else ''}; gate: {dec['gate_decision']}).", "",
              f"Across {dec['verdict_stability']['worlds']:,} plausible worlds: {_probabilities(dec)}.", ""]
    lines += [f"- Why: {reason}" for reason in dec.get("why") or []]
    lines += [f"- Needs evidence: {ask['evidence']}" for ask in dec.get("needs_evidence") or []]
    lines += [f"- What would change it: {flip['statement']}" for flip in dec.get("what_would_change_it") or []]
    lines += [
              f"- {pct(m['p_npv_positive'])} of {sim['paths']['used']:,} simulated futures have a positive NPV; "
              f"P50 NPV {money(m['npv_p50'])} (P10 {money(out['npv']['p10'])}, P90 {money(out['npv']['p90'])}).",
              f"- P50 annual run-rate at month 36: {money(m['arr_36_p50'])}; P(reach SOM) {pct(m['p_reach_som'])}.",
              f"- P50 LTV/CAC {m['ltv_cac_p50']:.1f}; P50 funding need {money(m['funding_need_p50'])}; "
              f"operating break-even by month 24 in {pct(m['p_breakeven_24'])} of futures.",
              f"- Data quality {md['data_quality']['score']:.2f} (0 = all benchmark priors, 1 = all client evidence)."]
    for ko in dec.get("knockouts") or []:
        lines.append(f"- Must-meet failing in {pct(ko['share'])} of worlds ({pct(ko['confirmed_share'])} on your own "
                     f"figures): {ko['message']}.")
    if dec.get("pivot") and dec["pivot"].get("suggested_change"):
        lines.append(f"- Suggested change: {dec['pivot']['suggested_change']}.")
    lines += ["", "Critical success factors:", ""] + [f"{i}. {c}" for i, c in
                                                      enumerate(dec["critical_success_factors"], 1)]
    mk = md["market"]
    lines += ["", "## Demand", "",
              f"Domain: **{md['domain']['name']}** ({md['domain']['how']}). "
              f"{idea.get('description') or ''}".strip(), ""]
    lines += _table(["measure", "value", "source"],
                    [["TAM", money(mk["tam"]["value"]), mk["tam"]["source"]],
                     ["SAM", money(mk["sam"]["value"]), mk["sam"]["source"]],
                     ["SOM (target ARR)", money(mk["som"]["value"]), mk["som"]["source"]],
                     ["SAM accounts", f"{mk['sam_accounts']:,.0f}", f"SAM / (12 x {money(mk['account_price'])})"]])
    lines += ["", "Simulated demand (P10 / P50 / P90):", ""]
    lines += _table(["output", "P10", "P50", "P90"],
                    [[f"revenue year {y}", money(out[f'revenue_y{y}']['p10']), money(out[f'revenue_y{y}']['p50']),
                      money(out[f'revenue_y{y}']['p90'])] for y in (1, 2, 3)]
                    + [["customers at month 36", f"{out['customers_36']['p10']:,.0f}",
                        f"{out['customers_36']['p50']:,.0f}", f"{out['customers_36']['p90']:,.0f}"],
                       ["share of SAM accepting the price", pct(out["acceptance"]["p10"]),
                        pct(out["acceptance"]["p50"]), pct(out["acceptance"]["p90"])]])
    for f in mk["flags"]:
        lines.append(f"\n> {f}")
    lines += ["", "## Personas (synthetic)", "", personas["method"] + ".", ""]
    lines += _table(["id", "segment (synthetic)", "SAM share", "WTP likely ($/mo)", "Bass p / q", "churn/mo",
                     "WTP evidence"],
                    [[p["id"], p["name"], pct(p["sam_share"]), f"{p['wtp']['likely']:,.0f}",
                      f"{p['adoption']['p']:.4f} / {p['adoption']['q']:.3f}", f"{p['churn_monthly']:.1%}",
                      p["evidence_grade"]] for p in personas["personas"]])
    lines += ["", "## Competition", "", comps["method"] + ".", ""]
    lines += _table(["competitor", "source", "share", "price ($/mo)", "strength", "position"],
                    [[c["name"], "synthetic" if c["synthetic"] else "named by you", pct(c["share"]),
                      f"{c['price']:,.0f}", f"{c['strength']:+.2f}", c["position"]] for c in comps["top_5"]])
    lines += ["", f"{comps['count']} competitors ({comps['named']} named by the client, {comps['synthetic']} "
              f"synthetic); concentration HHI {comps['concentration_hhi']:.0f}. Simulated share of choice "
              f"{pct(m['market_share_mean'])}."]
    tv = dec["deliverables"]["technical_validation"]
    lines += ["", "## Technical", "",
              f"Feasibility {tv['architecture_feasibility']['score']:.0f}/100 (complexity "
              f"{tv['architecture_feasibility']['complexity']:.1f}/5): {tv['architecture_feasibility']['assessment']}.",
              f"Integration complexity: {tv['integration_complexity']['level']}.", ""]
    lines += [f"- {r}" for r in tv["reasoning"]] or ["- No technology facts stated."]
    lines += ["", "Stack recommendations:", ""] + [f"- {s}" for s in tv["stack_recommendations"]]
    lines += ["", "## Financial", ""]
    lines += _table(["output", "P5", "P10", "P50", "P90", "P95"],
                    [[name, *[(money if is_money else (lambda v: f"{v:.2f}"))(out[key][p])
                              for p in ("p5", "p10", "p50", "p90", "p95")]]
                     for name, key, is_money in (("NPV", "npv", True), ("ARR month 36", "arr_36", True),
                                              ("funding need", "funding_need", True), ("ROI", "roi", False),
                                              ("LTV/CAC", "ltv_cac", False),
                                              ("CAC payback (months)", "cac_payback_months", False))])
    lines += ["", f"Break-even month P50: {_months(out['breakeven_month']['p50'])}; "
              f"P(break-even within 36 months) {pct(m['p_breakeven_36'])}.", ""]
    sens = sim.get("sensitivity") or {}
    if sens:
        lines += ["Sobol indices of NPV (95 % CI):", ""]
        lines += _table(["input", "S1", "ST"],
                        [[e["input"], f"{e['s1']:.3f} [{e['s1_ci'][0]:.3f}, {e['s1_ci'][1]:.3f}]",
                          f"{e['st']:.3f} [{e['st_ci'][0]:.3f}, {e['st_ci'][1]:.3f}]"]
                         for e in sens["sobol"]["indices"][:8]])
        lines += ["", "Tornado (NPV at P10 / P90 of each input, others at median):", ""]
        lines += _table(["input", "NPV at P10", "NPV at P90", "swing"],
                        [[b["input"], money(b["npv_low"]), money(b["npv_high"]), money(b["swing"])]
                         for b in sens["tornado"][:8]])
    scen = (sim.get("scenarios") or {}).get("results") or {}
    if scen:
        lines += ["", "Scenarios (common random numbers):", ""]
        lines += _table(["scenario", "P(NPV>0)", "P50 NPV", "delta P50 NPV", "P50 ARR 36"],
                        [[k, pct(v["metrics"]["p_npv_positive"]), money(v["metrics"]["npv_p50"]),
                          money(v["delta_vs_base"]["npv_p50"]), money(v["metrics"]["arr_36_p50"])]
                         for k, v in scen.items()])
    lines += ["", "## Risk", ""]
    lines += _table(["risk", "level", "score", "drivers"],
                    [[k, v["level"], f"{v['score']:.2f}", "; ".join(v["drivers"])]
                     for k, v in dec["risk_assessment"].items()])
    wdf = sens.get("what_drives_failure") if sens else None
    if wdf:
        sig = [d["statement"] for d in wdf["drivers"] if d["significant"]]
        lines += ["", f"What drives failure (NPV <= 0 in {pct(wdf['p_failure'])} of paths): "
                  + ("; ".join(sig) if sig else "no single input separates the failing paths") + "."]
    lines += ["", "## Decision", ""]
    lines += _table(["dimension", "weight", "score", "evidence"],
                    [[d["name"], f"{d['weight']:.2f}", f"{d['score']:.1f}", d["evidence"]] for d in dec["dimensions"]])
    vs = dec["verdict_stability"]
    th = dec["thresholds"]
    lines += ["", f"Verdict **{dec['recommendation']}** at {dec['score']:.1f} (GO >= {th['go']:.0f}, "
              f"KILL < {th['kill']:.0f}): the middle of {vs['worlds']:,} plausible worlds. {_probabilities(dec)} "
              f"(rule: {th['probabilities']['rule']}; borderline when the runner-up has at least "
              f"{pct(th['borderline_runner_up'])}).", ""]
    if dec.get("go_gates_failed"):
        lines.append("GO gates failing among viable worlds: " + ", ".join(
            f"{g['message']} ({pct(g['failing_share'])})" for g in dec["go_gates_failed"]) + ".")
    if dec.get("pivot"):
        pv = dec["pivot"]
        if pv["drivers"]:
            lines += ["", "Pivot drivers: " + "; ".join(d["statement"] or d["input"] for d in pv["drivers"]) + ".", ""]
        if pv.get("suggestions"):
            lines += _table(["change (simulated on the same worlds)", "P(GO)", "P(PIVOT)", "P(KILL)", "score"],
                            [[c["change"], pct(c["probabilities"]["GO"]), pct(c["probabilities"]["PIVOT"]),
                              pct(c["probabilities"]["KILL"]), f"{c['score']:.1f}"] for c in pv["suggestions"]])
    lines += ["", "Next steps:", ""] + [f"{i}. {s}" for i, s in enumerate(dec["next_steps"], 1)]
    lines += ["", "## Assumptions and priors", ""]
    lines += _table(["input", "distribution", "low", "likely", "high", "unit", "grade", "source"],
                    [[n, e["distribution"], f"{e['low']:.4g}", f"{e['likely']:.4g}", f"{e['high']:.4g}", e["unit"],
                      e["grade"], e["source"]] for n, e in md["inputs"].items()])
    evidence = dec.get("evidence") or {}
    if evidence.get("inputs"):
        lines += ["", "### What your evidence changed (benchmark prior against posterior)", ""]
        lines += _table(["input", "prior (low / likely / high)", "posterior (low / likely / high)", "evidence"],
                        [[e["input"], _three(e["prior"]), _three(e["posterior"]), e["evidence"]]
                         for e in evidence["inputs"]])
    if evidence.get("unused"):
        lines += ["", "Evidence not used:", ""] + [f"- `{u['field']}`: {u['reason']}" for u in evidence["unused"]]
    lines += ["", "Correlations (target rank correlation): "
              + "; ".join(f"{c['a']} ~ {c['b']} {c['rank_corr']:+.1f} ({c['reason']})" for c in md["correlations"]),
              "", "Notes: " + "; ".join(md["data_quality"]["notes"])]
    cfg = bundle.get("simulation_config") or {}
    conv = sim["convergence"]
    lines += ["", "## Provenance", "",
              f"- run {run.get('run_id')} / {run.get('validation_id')} / project {run.get('project_id')}",
              f"- created {run.get('created_at')}; smvm {run.get('smvm_version')}; model {sim['model_version']}; "
              f"priors {md['priors_version']}",
              f"- seed {sim['seed']}; sampler {sim['sampler']}; scenario {sim['scenario']}; paths "
              f"{sim['paths']['used']:,} in {sim['paths']['chunks']} chunks of {sim['paths']['chunk_size']:,}"
              f" (requested {sim['paths']['requested']:,}); verdict worlds {dec['verdict_stability']['worlds']:,}",
              "- 95 % intervals across replicates: " + "; ".join(
                  f"{k} {v['ci_low']:.4g}..{v['ci_high']:.4g}" for k, v in conv["metrics"].items()),
              f"- correlation matrix repaired: {cfg.get('correlation', {}).get('repaired', False)}", ""]
    arts = bundle.get("artifacts") or {}
    if arts:
        lines += _table(["artifact", "sha256"], [[k, v] for k, v in sorted(arts.items())])
    return "\n".join(lines) + "\n"


def _probabilities(dec: dict[str, Any]) -> str:
    p = dec["verdict_probabilities"]
    return f"P(GO) {pct(p['GO'])}, P(PIVOT) {pct(p['PIVOT'])}, P(KILL) {pct(p['KILL'])}"


def _three(spec: dict[str, Any]) -> str:
    return f"{spec['low']:.4g} / {spec['likely']:.4g} / {spec['high']:.4g}"


def _latin1(text: str) -> str:
    # The PDF's core fonts are latin-1; map the few typographic characters we emit and drop anything else.
    table = {"\u2265": ">=", "\u2264": "<=", "\u2014": "-", "\u2013": "-", "\u2019": "'", "\u201c": '"',
             "\u201d": '"', "\u2026": "...", "\u00b1": "+/-", "\u2248": "~", "\u2192": "->", "\u00d7": "x"}
    for k, v in table.items():
        text = text.replace(k, v)
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf_report(bundle: dict[str, Any]) -> bytes:
    """``reports/analysis_report.pdf``: summary text plus revenue fan, NPV histogram, break-even curve,
    tornado, Sobol bars and competitor positioning, as a multi-page PDF (bytes)."""
    from fpdf import FPDF

    dec, sim = bundle["decision"], bundle["simulation_result"]
    m = sim["metrics"]
    pdf = FPDF(format="A4")
    created = (bundle.get("run") or {}).get("created_at")
    try:
        stamp = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        stamp = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    pdf.set_creation_date(stamp)
    pdf.set_title(_latin1(f"SMVM analysis: {_title(bundle)}"))
    pdf.set_auto_page_break(True, margin=15)

    def heading(text: str) -> None:
        pdf.set_font("Helvetica", "B", 13)
        pdf.cell(0, 9, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def para(text: str) -> None:
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def image(png: bytes) -> None:
        pdf.image(io.BytesIO(png), w=180)
        pdf.ln(2)

    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 9, _latin1(f"Validation report: {_title(bundle)}"), new_x="LMARGIN", new_y="NEXT")
    heading(f"Recommendation: {dec['recommendation']} ({dec['score']:.1f}/100)")
    para(f"Confidence {dec['confidence']:.2f}{' (borderline)' if dec['borderline'] else ''}; gate "
         f"{dec['gate_decision']}. {_probabilities(dec)} across {dec['verdict_stability']['worlds']:,} plausible "
         f"worlds. P(NPV>0) {pct(m['p_npv_positive'])}; P50 NPV {money(m['npv_p50'])}; "
         f"P50 ARR month 36 {money(m['arr_36_p50'])}; P50 LTV/CAC {m['ltv_cac_p50']:.1f}; P50 funding need "
         f"{money(m['funding_need_p50'])}; {sim['paths']['used']:,} paths, seed {sim['seed']}, "
         f"sampler {sim['sampler']}.")
    for reason in dec.get("why") or []:
        para(f"- Why: {reason}")
    for ask in dec.get("needs_evidence") or []:
        para(f"- Needs evidence: {ask['evidence']}")
    for d in dec["dimensions"]:
        para(f"- {d['name']} ({d['weight']:.2f}): {d['score']:.0f}. {d['evidence']}")
    para("Critical success factors: " + "; ".join(dec["critical_success_factors"]))
    if dec.get("pivot") and dec["pivot"].get("suggested_change"):
        para(f"Suggested change: {dec['pivot']['suggested_change']}.")
    for e in (dec.get("evidence") or {}).get("inputs") or []:
        para(f"- {e['input']}: benchmark {_three(e['prior'])} -> with your evidence {_three(e['posterior'])} "
             f"({e['evidence']})")
    heading("Revenue fan chart")
    image(charts.revenue_fan(sim))
    pdf.add_page()
    heading("NPV distribution and break-even")
    image(charts.npv_histogram(sim))
    image(charts.breakeven_curve(sim))
    if sim.get("sensitivity"):
        pdf.add_page()
        heading("Sensitivity")
        image(charts.tornado(sim))
        image(charts.sobol_bars(sim))
    pdf.add_page()
    heading("Competition")
    image(charts.positioning(bundle["competitors"]))
    para(bundle["competitors"]["method"] + ".")
    for c in bundle["competitors"]["top_5"]:
        label = " (synthetic)" if c["synthetic"] else " (named by you)"
        para(f"- {c['name']}{label}: share {pct(c['share'])}, price ${c['price']:,.0f}/mo, {c['position']}")
    heading("Risk")
    for k, v in dec["risk_assessment"].items():
        para(f"- {k}: {v['level']} ({v['score']:.2f}). " + "; ".join(v["drivers"]))
    heading("Next steps")
    for s in dec["next_steps"]:
        para(f"- {s}")
    return bytes(pdf.output())


def build_validation_summary(bundle: dict[str, Any]) -> dict[str, Any]:
    """The ``validation_summary.json`` document: verdict, headline numbers, data quality and provenance."""
    run, dec, sim, md = bundle["run"], bundle["decision"], bundle["simulation_result"], bundle["market_data"]
    m = sim["metrics"]
    return {
        "run_id": run.get("run_id"),
        "validation_id": run.get("validation_id"),
        "project_id": run.get("project_id"),
        "created_at": run.get("created_at"),
        "title": _title(bundle),
        "domain": md["domain"]["name"],
        "recommendation": dec["recommendation"],
        "score": dec["score"],
        "confidence": dec["confidence"],
        "verdict_probabilities": dec["verdict_probabilities"],
        "borderline": dec["borderline"],
        "gate_decision": dec["gate_decision"],
        "why": dec["why"],
        "needs_evidence": [ask["evidence"] for ask in dec["needs_evidence"]],
        "key_metrics": {k: m[k] for k in ("p_npv_positive", "npv_p50", "arr_36_p50", "ltv_cac_p50",
                                          "funding_need_p50", "p_breakeven_24", "p_reach_som")},
        "market": {k: md["market"][k]["value"] for k in ("tam", "sam", "som")},
        "data_quality": md["data_quality"]["score"],
        "critical_success_factors": dec["critical_success_factors"],
        "next_steps": dec["next_steps"],
        "suggested_pivot": (dec.get("pivot") or {}).get("suggested_change"),
        "risk_levels": {k: v["level"] for k, v in dec["risk_assessment"].items()},
        "provenance": {"seed": sim["seed"], "sampler": sim["sampler"], "paths": sim["paths"]["used"],
                       "model_version": sim["model_version"], "smvm_version": run.get("smvm_version"),
                       "priors_version": md["priors_version"]},
        "artifacts": dict(sorted((bundle.get("artifacts") or {}).items())),
    }
