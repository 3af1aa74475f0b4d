"""Decision analysis: verdict, confidence, key factors, risks, pivot re-simulation and the T0+30 deliverables."""

from __future__ import annotations

import copy
import re
from typing import Any

from smvm.decision.scoring import (
    BORDERLINE_MARGIN,
    GO_THRESHOLD,
    KILL_THRESHOLD,
    WEIGHTS,
    classify,
    evaluate,
)
from smvm.formatting import money
from smvm.gate import RECOMMENDATION_GATE as _GATE  # the one gate mapping, shared with /gate and callbacks

_LEVERS = {"price", "cac", "churn", "product_advantage", "opex", "wtp_level", "expansion", "gross_margin"}
_TEAM_WORDS = ("founder", "team", "experience", "years", "ex-", "former", "patent", "proprietary", "exclusive",
               "partnership", "domain expert", "phd")


def _context(request: dict[str, Any], market_data: dict[str, Any], competitors: dict[str, Any],
             simulation_config: dict[str, Any] | None) -> dict[str, Any]:
    idea = request.get("idea") or {}
    inputs = market_data["inputs"]
    tech = market_data["technical"]
    adv = str(idea.get("competitive_advantage") or "").lower() + " " + str(idea.get("description") or "").lower()
    team = 50.0
    hits = [w for w in _TEAM_WORDS if re.search(r"(?<![a-z])" + re.escape(w), adv)]
    team += min(len(hits), 3) * 8.0
    if (market_data.get("evidence") or {}).get("traction"):
        team += 20.0
    gm, opex = inputs["gross_margin"]["likely"], inputs["opex"]["likely"]
    return {
        "sam": market_data["market"]["sam"]["value"],
        "tam": market_data["market"]["tam"]["value"],
        "n_competitors": competitors.get("count", len(competitors.get("competitors", []))),
        "hhi": competitors.get("concentration_hhi", 0.0),
        "data_quality": market_data["data_quality"]["score"],
        "complexity": tech["complexity"],
        "feasibility": tech["feasibility_score"],
        "team": min(team, 100.0),
        "team_evidence": hits,
        "breakeven_arr": 12.0 * opex / max(gm, 1e-6),
    }


def _dimension_evidence(name: str, m: dict[str, float], ctx: dict[str, Any], market_data: dict[str, Any]) -> str:
    if name == "market_opportunity":
        return (f"P50 ARR at month 36 {money(m['arr_36_p50'])}; SAM {money(ctx['sam'])} "
                f"({market_data['market']['sam']['source']}); P(reach SOM) {m['p_reach_som']:.0%}")
    if name == "willingness_to_pay":
        return (f"{m['acceptance_mean']:.0%} of the SAM values the product above its price; "
                f"P50 CAC payback {m['cac_payback_p50']:.1f} months")
    if name == "competitive_position":
        return (f"Simulated share of choice {m['market_share_mean']:.1%} against {ctx['n_competitors']} competitors "
                f"(HHI {ctx['hhi']:.0f})")
    if name == "technical_feasibility":
        drivers = [d["driver"] for d in market_data["technical"]["drivers"]] or ["no complexity drivers found"]
        return f"Complexity {ctx['complexity']:.1f}/5 from the idea text: {', '.join(drivers)}"
    if name == "financial_viability":
        return (f"P(NPV>0) {m['p_npv_positive']:.0%}; P50 LTV/CAC {m['ltv_cac_p50']:.1f}; "
                f"P(break-even within 36 months) {m['p_breakeven_36']:.0%}")
    if name == "risk":
        return (f"P50 funding need {money(m['funding_need_p50'])}; data quality {ctx['data_quality']:.2f}; "
                f"P10 NPV {money(m['npv_p10'])}")
    return ("No team data in the request: neutral score" if not ctx["team_evidence"] and ctx["team"] <= 50
            else f"Team signals in the idea text: {', '.join(ctx['team_evidence']) or 'early traction'}")


def _level(risk: float) -> str:
    return "high" if risk >= 0.6 else ("medium" if risk >= 0.35 else "low")


def _risks(m: dict[str, float], ctx: dict[str, Any], dims: dict[str, float], sim: dict[str, Any],
           market_data: dict[str, Any]) -> dict[str, Any]:
    scen = (sim.get("scenarios") or {}).get("results") or {}
    bear = scen.get("bear", {}).get("metrics", {})
    market_risk = 1.0 - (0.6 * dims["market_opportunity"] + 0.4 * dims["competitive_position"]) / 100.0
    market_drivers = [f"P(NPV>0) falls from {m['p_npv_positive']:.0%} to {bear['p_npv_positive']:.0%} in the bear case"
                      ] if bear else []
    entry = scen.get("competitor_entry", {}).get("delta_vs_base", {})
    if entry:
        market_drivers.append(f"A strong entrant in month 12 moves P50 NPV by {money(entry['npv_p50'])}")
    if market_data["market"]["flags"]:
        market_drivers.append(market_data["market"]["flags"][0])
    tech_risk = ctx["complexity"] / 5.0
    tech_drivers = [f"{d['driver']} (matched: {', '.join(d['matched'])})" for d in market_data["technical"]["drivers"]]
    exec_risk = min(1.0, 0.5 * (1.0 - m["p_breakeven_36"]) + 0.3 * min(m["cac_payback_p50"] / 36.0, 1.0)
                    + 0.2 * (1.0 - ctx["data_quality"]))
    exec_drivers = [f"P50 funding need {money(m['funding_need_p50'])}",
                    f"P50 CAC payback {m['cac_payback_p50']:.1f} months",
                    f"{sum(1 for g in market_data['data_quality']['grades'].values() if g == 'benchmark')} inputs "
                    "rest on benchmark priors"]
    return {
        "market": {"level": _level(market_risk), "score": round(market_risk, 4), "drivers": market_drivers},
        "technical": {"level": _level(tech_risk), "score": round(tech_risk, 4),
                      "drivers": tech_drivers or ["No complexity drivers found in the idea text"]},
        "execution": {"level": _level(exec_risk), "score": round(exec_risk, 4), "drivers": exec_drivers},
    }


_CSF_TEMPLATES = {
    "churn": "Hold monthly churn at or below {likely:.1%} (the plan's likely value)",
    "cac": "Acquire customers for about {money_likely} or less",
    "price": "Sustain a price near {money_likely}/month without discounting",
    "wtp_level": "Confirm willingness to pay at the planned price with real buyers",
    "product_advantage": "Ship a differentiator customers rank above the incumbents",
    "market_size": "Verify the serviceable market bottom-up (accounts x price)",
    "opex": "Keep fixed costs near {money_likely}/month until revenue follows",
    "bass_q": "Build word of mouth (referrals, community) so adoption compounds",
    "bass_p": "Reach early adopters directly (outbound, launch channels)",
    "gross_margin": "Keep gross margin at or above {likely:.0%}",
    "expansion": "Grow revenue within accounts (seats, tiers, usage)",
    "competitor_strength": "Track incumbents' responses and keep switching costs low for new customers",
    "upfront_cost": "Build the first version within {money_likely}",
}


def _critical_success_factors(sim: dict[str, Any], config_inputs: dict[str, Any]) -> list[str]:
    sens = sim.get("sensitivity") or {}
    ranked = [e["input"] for e in (sens.get("sobol") or {}).get("indices", [])] or \
        [e["input"] for e in sens.get("rank_importance", [])]
    out = []
    for name in ranked:
        if name in _CSF_TEMPLATES and name in config_inputs:
            spec = config_inputs[name]
            out.append(_CSF_TEMPLATES[name].format(likely=spec["likely"], money_likely=money(spec["likely"])))
        if len(out) == 4:
            break
    return out or ["Validate the core demand assumption with paying customers"]


def _pivot_candidates(m: dict[str, float], personas: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    raise_price = m["acceptance_mean"] > 0.55
    cands = [
        ("price", "Raise the price 15 %" if raise_price else "Cut the price 15 %",
         {"scale_input": {"price": 1.15 if raise_price else 0.85}}),
        ("cac", "Shift to lower-cost channels (CAC -30 %, reach -15 %)",
         {"scale_input": {"cac": 0.7, "market_size": 0.85}}),
        ("opex", "Run a leaner team (fixed costs -30 %, word of mouth -10 %)",
         {"scale_input": {"opex": 0.7, "bass_q": 0.9}}),
        ("churn", "Invest in onboarding and retention (churn -30 %, fixed costs +10 %)",
         {"scale_input": {"churn": 0.7, "opex": 1.1}}),
    ]
    segs = personas.get("personas") or []
    if len(segs) > 1:
        best = max(segs, key=lambda p: p["wtp"]["likely"] / max(p["churn_monthly"], 1e-6))
        cands.append(("segment", f"Focus on the '{best['name']}' segment", {"segment": best["id"]}))
    return cands


def _variant(config: dict[str, Any], change: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any] | None]:
    """A pivot candidate as input scale factors and, for a segment focus, the model config it implies."""
    scale_input = dict(change.get("scale_input", {}))
    if "segment" not in change:
        return scale_input, None
    # Focusing concentrates spend: that segment keeps its own accounts, but its adoption speeds up.
    cfg = copy.deepcopy(config)
    keep = [s for s in cfg["segments"] if s["id"] == change["segment"]]
    share = keep[0]["sam_share"]
    keep[0] = {**keep[0], "sam_share": 1.0, "p_mult": keep[0]["p_mult"] * 1.5}
    cfg["market"]["sam_accounts"] *= share
    cfg["segments"] = keep
    scale_input["opex"] = scale_input.get("opex", 1.0) * 0.85
    return scale_input, cfg


#: Paths per PIVOT candidate. Every candidate runs on the same draws (common random numbers), so their
#: differences are the change, not noise; one 8,192-path RQMC draw ranks them as well as 32,768 did.
RESIMULATION_PATHS = 8_192


def _resimulate(config: dict[str, Any], sim: dict[str, Any], drivers: list[dict[str, Any]],
                personas: dict[str, Any], ctx: dict[str, Any], base_eval: dict[str, Any]) -> dict[str, Any]:
    from smvm.simulation.services import compare_variants

    paths = min(int(config["paths"]["initial"]), RESIMULATION_PATHS)
    candidates = _pivot_candidates(sim["metrics"], personas)
    results = compare_variants(config, [_variant(config, change) for _, _, change in candidates], paths=paths)
    trials = []
    for (lever, label, _), metrics in zip(candidates, results, strict=True):
        ev = evaluate(metrics, ctx)
        trials.append({"lever": lever, "change": label, "score": ev["score"], "recommendation": ev["recommendation"],
                       "metrics": {k: metrics[k] for k in ("p_npv_positive", "npv_p50", "ltv_cac_p50",
                                                          "arr_36_p50", "funding_need_p50")}})
    driver_names = {d["input"] for d in drivers}
    trials.sort(key=lambda t: (-t["score"], t["lever"] not in driver_names, t["lever"]))
    best = trials[0]
    return {"paths": paths, "common_random_numbers": True, "baseline_score": base_eval["score"],
            "best": best, "candidates": trials}


def analyse_decision(request: dict[str, Any], validation: dict[str, Any], market_data: dict[str, Any],
                     personas: dict[str, Any], competitors: dict[str, Any],
                     simulation_result: dict[str, Any], simulation_config: dict[str, Any] | None = None,
                     *, resimulate_pivot: bool = True) -> dict[str, Any]:
    """The ``outputs/decision.output.json`` document for one run.

    ``simulation_config`` is optional; with it a PIVOT is re-simulated with the suggested change on common
    random numbers (without it the config is rebuilt from the other stage outputs). ``resimulate_pivot=False``
    skips that re-simulation (multi-seed sweeps).
    """
    sim = simulation_result
    ctx = _context(request, market_data, competitors, simulation_config)
    m = sim["metrics"]
    ev = evaluate(m, ctx)
    dims, score, verdict = ev["dimensions"], ev["score"], ev["recommendation"]
    # T0 business-logic failures are knock-outs too: a malformed business case cannot pass a gate.
    if validation.get("business_logic_check") == "failed":
        ev["knockouts"].append({"rule": "T0 business logic check passed", "value": "failed",
                                "message": "The T0 validation failed its business-logic check"})
        verdict = "KILL"

    rep_verdicts = [evaluate(r, ctx) for r in sim.get("replicates") or []]
    agreement = (sum(1 for r in rep_verdicts if r["recommendation"] == verdict) / len(rep_verdicts)
                 if rep_verdicts else 1.0)
    rep_scores = [r["score"] for r in rep_verdicts]
    dq = market_data["data_quality"]["score"]
    confidence = round(0.6 * agreement + 0.4 * dq, 4)
    margin = min(abs(score - GO_THRESHOLD), abs(score - KILL_THRESHOLD))
    straddling = sim.get("convergence", {}).get("borderline_metrics") or []
    # With a knock-out the score cannot change the verdict, so only the knock-out metrics' own CIs matter.
    near_threshold = margin < BORDERLINE_MARGIN and not ev["knockouts"]
    borderline = bool(agreement < 0.95 or near_threshold or straddling)

    dimensions = [{"name": k, "weight": WEIGHTS[k], "score": round(dims[k], 2),
                   "evidence": _dimension_evidence(k, m, ctx, market_data)} for k in WEIGHTS]
    key_factors = [{"factor": d["name"], "score": round(d["score"] / 100.0, 3), "evidence": d["evidence"]}
                   for d in sorted(dimensions, key=lambda d: -d["weight"] * abs(d["score"] - 60.0))]
    risks = _risks(m, ctx, dims, sim, market_data)
    key_factors.append({"factor": "technical_risks", "score": round(1.0 - risks["technical"]["score"], 3),
                        "evidence": "; ".join(risks["technical"]["drivers"])})
    inputs = market_data["inputs"]
    csf = _critical_success_factors(sim, inputs)
    next_steps = _next_steps(verdict, market_data, ev)

    config = simulation_config
    if config is None and verdict == "PIVOT" and resimulate_pivot:
        from smvm.simulation.services import build_simulation_config

        config = build_simulation_config(request, market_data, personas, competitors,
                                         iterations=int(sim["paths"]["requested"]), seed=int(sim["seed"]),
                                         sampler=sim["sampler"], scenario=sim["scenario"])
    pivot = None
    drivers = [d for d in ((sim.get("sensitivity") or {}).get("what_drives_failure") or {}).get("drivers", [])
               if d["input"] in _LEVERS]
    if verdict == "PIVOT":
        top = [d for d in drivers if d.get("significant")][:3] or drivers[:2]
        if len(top) < 2:
            top = (top + [{"input": e["input"], "statement": f"{e['input']} has Sobol ST {e['st']:.2f}"}
                          for e in ((sim.get("sensitivity") or {}).get("sobol") or {}).get("indices", [])
                          if e["input"] in _LEVERS])[:3]
        pivot = {"drivers": [{"input": d["input"], "statement": d.get("statement", "")} for d in top[:3]],
                 "suggested_change": None, "resimulated": None}
        if resimulate_pivot:
            resim = _resimulate(config, sim, top, personas, ctx, ev)
            pivot.update(suggested_change=resim["best"]["change"], resimulated=resim)

    return {
        "project_id": request.get("project_id"),
        "run_id": request.get("run_id"),
        "recommendation": verdict,
        "score": round(score, 2),
        "confidence": confidence,
        "borderline": borderline,
        "gate_decision": _GATE[verdict],
        "thresholds": {"go": GO_THRESHOLD, "kill": KILL_THRESHOLD, "borderline_margin": BORDERLINE_MARGIN},
        "knockouts": ev["knockouts"],
        "go_gates_failed": ev["gates_failed"],
        "verdict_stability": {"replicates": len(rep_verdicts), "agreement": round(agreement, 4),
                              "score_min": round(min(rep_scores), 2) if rep_scores else None,
                              "score_max": round(max(rep_scores), 2) if rep_scores else None,
                              "straddling_metrics": straddling},
        "dimensions": dimensions,
        "key_factors": key_factors,
        "critical_success_factors": csf,
        "next_steps": next_steps,
        "risk_assessment": risks,
        "pivot": pivot,
        "deliverables": _deliverables(request, market_data, personas, competitors, sim, risks),
    }


def _next_steps(verdict: str, market_data: dict[str, Any], ev: dict[str, Any]) -> list[str]:
    grades = market_data["data_quality"]["grades"]
    steps = []
    if verdict == "GO":
        steps.append("Proceed to detailed market analysis and build planning")
    elif verdict == "PIVOT":
        steps.append("Test the suggested change with customers before building")
    else:
        steps.append("Stop investment in this form; record what the simulation showed")
    if grades.get("wtp_level") == "benchmark":
        steps.append("Run a Van Westendorp price survey with at least 100 target customers")
    if grades.get("cac") == "benchmark":
        steps.append("Measure CAC with a small paid-acquisition test in two channels")
    if grades.get("competitor_strength") == "benchmark":
        steps.append("Name the real competitors with their prices and shares")
    if grades.get("market_size") == "benchmark":
        steps.append("Size the serviceable market bottom-up (accounts x price)")
    steps.append("Schedule a technical architecture review")
    for ko in ev["knockouts"][:2]:
        steps.append(f"Resolve the knock-out: {ko['message']}")
    return steps


def _deliverables(request: dict[str, Any], market_data: dict[str, Any], personas: dict[str, Any],
                  competitors: dict[str, Any], sim: dict[str, Any], risks: dict[str, Any]) -> dict[str, Any]:
    mk = market_data["market"]
    inputs = market_data["inputs"]
    out = sim["outputs"]
    accounts = mk["sam_accounts"]
    segmentation = [{"id": p["id"], "name": p["name"], "sam_share": p["sam_share"],
                     "accounts": round(accounts * p["sam_share"]), "wtp_likely": p["wtp"]["likely"],
                     "churn_monthly": p["churn_monthly"], "adoption": p["adoption"],
                     "evidence_grade": p["evidence_grade"]} for p in personas["personas"]]
    years = [{"year": y, **{k: out[f"revenue_y{y}"][k] for k in ("p10", "p50", "p90", "mean")}} for y in (1, 2, 3)]
    sens = sim.get("sensitivity") or {}
    tech = market_data["technical"]
    return {
        "market_analysis": {
            "tam": mk["tam"], "sam": mk["sam"], "som": mk["som"], "flags": mk["flags"],
            "sam_accounts": accounts,
            "segmentation": segmentation,
            "competitive_positioning_matrix": competitors["positioning_matrix"],
            "top_5_competitors": competitors["top_5"],
        },
        "financial_projections": {
            "revenue_forecast_3y": years,
            "arr_36": out["arr_36"],
            "cost_structure": {
                "gross_margin": {k: inputs["gross_margin"][k] for k in ("low", "likely", "high")},
                "opex_monthly": {k: inputs["opex"][k] for k in ("low", "likely", "high")},
                "cac": {k: inputs["cac"][k] for k in ("low", "likely", "high")},
                "upfront_cost": {k: inputs["upfront_cost"][k] for k in ("low", "likely", "high")},
                "funding_need": out["funding_need"],
            },
            "npv": out["npv"], "roi": out["roi"], "ltv_cac": out["ltv_cac"],
            "cac_payback_months": out["cac_payback_months"], "breakeven_month": out["breakeven_month"],
            "roi_sensitivity": {"tornado_top5": (sens.get("tornado") or [])[:5],
                                "sobol_top5": ((sens.get("sobol") or {}).get("indices") or [])[:5]},
        },
        "technical_validation": {
            "architecture_feasibility": {"score": tech["feasibility_score"], "complexity": tech["complexity"],
                                         "assessment": _feasibility_text(tech)},
            "stack_recommendations": [d["recommendation"] for d in tech["drivers"]]
            or ["A conventional web stack (Python or TypeScript API, PostgreSQL, a managed cloud) is enough"],
            "integration_complexity": {"level": tech["integration_complexity"],
                                       "drivers": [d for d in tech["drivers"]
                                                   if d["driver"] == "third-party integrations"]},
            "reasoning": [f"{d['driver']}: +{d['weight']} complexity because the idea mentions "
                          f"{', '.join(repr(w) for w in d['matched'])}" for d in tech["drivers"]]
            + ([f"domain '{market_data['domain']['name']}' adds a base of {tech['domain_base']}"]
               if tech["domain_base"] else []),
        },
        "risk_assessment": risks,
    }


def _feasibility_text(tech: dict[str, Any]) -> str:
    c = tech["complexity"]
    if c < 1:
        return "Feasible with a small team and standard tools; no unusual technical risk found"
    if c < 2.5:
        return "Feasible; plan for the named complexity drivers in the first architecture review"
    return "Feasible only with specialist skills and a longer build; de-risk the hardest driver first"


__all__ = ["analyse_decision", "classify"]
