"""The contract's T0+30 deliverables (market analysis, financial projections, technical validation, risk
assessment), assembled from the stage outputs."""

from __future__ import annotations

from typing import Any

from smvm.formatting import money


def _level(risk: float) -> str:
    return "high" if risk >= 0.6 else ("medium" if risk >= 0.35 else "low")


def risk_assessment(m: dict[str, float], worlds: dict[str, Any], market_data: dict[str, Any]) -> dict[str, Any]:
    """Market, technical and execution risk, each a 0..1 score with a level and the drivers behind it."""
    probs = worlds["probabilities"]
    market_risk = min(1.0, probs["KILL"] + 0.5 * probs["PIVOT"])
    market_drivers = [f"P(KILL) {probs['KILL']:.0%} and P(PIVOT) {probs['PIVOT']:.0%} across plausible worlds"]
    market_drivers.extend(market_data["market"]["flags"][:1])
    tech = market_data["technical"]
    tech_risk = tech["complexity"] / 5.0
    tech_drivers = [f"{d['driver'].replace('_', ' ')} (stated)" for d in tech["drivers"]]
    if not tech["stated"]:
        tech_drivers.append("No technology facts stated: complexity is the domain's base only")
        tech_drivers.extend(h["message"] for h in tech["hints"][:2])
    exec_risk = min(1.0, 0.5 * (1.0 - m["p_breakeven_36"]) + 0.3 * min(m["cac_payback_p50"] / 36.0, 1.0)
                    + 0.2 * (1.0 - market_data["data_quality"]["score"]))
    cash = market_data["facts"]["financials"].get("cash_on_hand")
    exec_drivers = [f"P50 funding need {money(m['funding_need_p50'])}"
                    + (f" against {money(cash)} cash on hand" if cash is not None else ""),
                    f"P50 CAC payback {m['cac_payback_p50']:.1f} months",
                    f"{sum(1 for g in market_data['data_quality']['grades'].values() if g == 'benchmark')} inputs "
                    "rest on benchmark priors"]
    return {
        "market": {"level": _level(market_risk), "score": round(market_risk, 4), "drivers": market_drivers},
        "technical": {"level": _level(tech_risk), "score": round(tech_risk, 4),
                      "drivers": tech_drivers or ["No complexity drivers stated"]},
        "execution": {"level": _level(exec_risk), "score": round(exec_risk, 4), "drivers": exec_drivers},
    }


def _feasibility_text(tech: dict[str, Any]) -> str:
    c = tech["complexity"]
    if not tech["stated"]:
        return "Not assessed: no technology facts stated (hardware, regulatory approval, novel R&D, integrations)"
    if c < 1:
        return "Feasible with a small team and standard tools; no unusual technical risk stated"
    if c < 2.5:
        return "Feasible; plan for the stated complexity drivers in the first architecture review"
    return "Feasible only with specialist skills and a longer build; de-risk the hardest driver first"


def deliverables(request: dict[str, Any], market_data: dict[str, Any], personas: dict[str, Any],
                 competitors: dict[str, Any], sim: dict[str, Any], risks: dict[str, Any]) -> dict[str, Any]:
    """Market analysis, financial projections, technical validation and risk assessment for the T0+30 sync."""
    del request
    mk = market_data["market"]
    inputs = market_data["inputs"]
    out = sim["outputs"]
    accounts = mk["sam_accounts"]
    segmentation = [{"id": p["id"], "name": p["name"], "synthetic": True, "sam_share": p["sam_share"],
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
                                       "drivers": [d for d in tech["drivers"] if d["driver"] == "integrations"]},
            "reasoning": [f"{d['driver'].replace('_', ' ')}: +{d['weight']} complexity (stated)" for d in tech["drivers"]]
            + ([f"domain '{market_data['domain']['name']}' adds a base of {tech['domain_base']}"]
               if tech["domain_base"] else [])
            + [h["message"] for h in tech["hints"]],
        },
        "risk_assessment": risks,
    }
