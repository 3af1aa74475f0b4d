"""The scorecard: dimension scores from simulated metrics, knock-outs, GO gates and the verdict thresholds."""

from __future__ import annotations

import math
from typing import Any

WEIGHTS = {
    "market_opportunity": 0.25,
    "willingness_to_pay": 0.20,
    "competitive_position": 0.15,
    "technical_feasibility": 0.15,
    "financial_viability": 0.10,
    "risk": 0.10,
    "team": 0.05,
}
GO_THRESHOLD = 75.0
KILL_THRESHOLD = 45.0
BORDERLINE_MARGIN = 2.0
MIN_TAM = 1_000_000.0  # the T0+3 gate's "Market Size: >= $1M TAM"
KNOCKOUT_P_NPV = 0.15
KNOCKOUT_LTV_CAC = 1.0
GO_P_NPV = 0.60
GO_LTV_CAC = 3.0


def _clip(x: float, lo: float = 0.0, hi: float = 100.0) -> float:
    return max(lo, min(hi, x))


def _log_scale(value: float, zero_at: float, full_at: float) -> float:
    if value <= 0:
        return 0.0
    return _clip(100.0 * (math.log10(value) - math.log10(zero_at)) / (math.log10(full_at) - math.log10(zero_at)))


def dimension_scores(m: dict[str, float], ctx: dict[str, Any]) -> dict[str, float]:
    """0..100 per dimension from one set of simulated metrics ``m`` and the run's static context ``ctx``."""
    market = (0.5 * _log_scale(m["arr_36_p50"], 1e5, 2e7) + 0.25 * 100.0 * m["p_reach_som"]
              + 0.25 * _log_scale(ctx["sam"], 1e7, 2e9))
    wtp = (0.7 * _clip(100.0 * (m["acceptance_mean"] - 0.15) / 0.6)
           + 0.3 * _clip(100.0 * (30.0 - m["cac_payback_p50"]) / 24.0))
    fair = 1.0 / (ctx["n_competitors"] + 2.0)
    rel = max(m["market_share_mean"], 1e-9) / fair
    competitive = 0.8 * _clip(50.0 + 35.0 * math.log2(rel)) + 0.2 * _clip(100.0 - ctx["hhi"] / 60.0)
    financial = (0.4 * 100.0 * m["p_npv_positive"] + 0.3 * _clip(100.0 * m["ltv_cac_p50"] / 5.0)
                 + 0.3 * 100.0 * m["p_breakeven_36"])
    risk = (0.4 * (100.0 - _log_scale(max(m["funding_need_p50"], 1.0), 2e5, 3e7))
            + 0.3 * 100.0 * ctx["data_quality"] + 0.3 * (100.0 - 20.0 * ctx["complexity"]))
    return {
        "market_opportunity": round(market, 6),
        "willingness_to_pay": round(wtp, 6),
        "competitive_position": round(competitive, 6),
        "technical_feasibility": round(ctx["feasibility"], 6),
        "financial_viability": round(financial, 6),
        "risk": round(_clip(risk), 6),
        "team": round(ctx["team"], 6),
    }


def weighted_score(dims: dict[str, float]) -> float:
    """The 0..100 weighted total of the seven dimensions."""
    return round(sum(WEIGHTS[k] * dims[k] for k in WEIGHTS), 6)


def knockouts(m: dict[str, float], ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """Must-meet failures (any one means KILL)."""
    out = []
    if m["ltv_cac_p50"] < KNOCKOUT_LTV_CAC:
        out.append({"rule": "ltv_cac_p50 >= 1", "value": m["ltv_cac_p50"],
                    "message": "Median LTV/CAC is below 1: each customer costs more to win than it returns"})
    if m["p_npv_positive"] < KNOCKOUT_P_NPV:
        out.append({"rule": "P(NPV>0) >= 0.15", "value": m["p_npv_positive"],
                    "message": "Fewer than 15 % of simulated futures create value"})
    if m["arr_36_p90"] < ctx["breakeven_arr"]:
        out.append({"rule": "P90 ARR at month 36 >= break-even revenue", "value": m["arr_36_p90"],
                    "message": "Even the optimistic reachable revenue stays below the revenue needed to break even"})
    if ctx["tam"] < MIN_TAM:
        out.append({"rule": "TAM >= $1M", "value": ctx["tam"], "message": "Total addressable market below $1M"})
    return out


def go_gates(m: dict[str, float]) -> list[dict[str, Any]]:
    """Should-meet gates a GO needs on top of the score; a failed gate caps the verdict at PIVOT."""
    out = []
    if m["p_npv_positive"] < GO_P_NPV:
        out.append({"rule": "P(NPV>0) >= 0.60", "value": m["p_npv_positive"]})
    if m["ltv_cac_p50"] < GO_LTV_CAC:
        out.append({"rule": "ltv_cac_p50 >= 3", "value": m["ltv_cac_p50"]})
    return out


def classify(score: float, knockout_count: int = 0, gates_failed: int = 0) -> str:
    """GO (>= 75), PIVOT (45..75), KILL (< 45); any knock-out is KILL, a failed GO gate caps at PIVOT."""
    if knockout_count:
        return "KILL"
    if score >= GO_THRESHOLD:
        return "PIVOT" if gates_failed else "GO"
    if score >= KILL_THRESHOLD:
        return "PIVOT"
    return "KILL"


def evaluate(m: dict[str, float], ctx: dict[str, Any]) -> dict[str, Any]:
    """Score, knock-outs, gates and verdict for one metrics set."""
    dims = dimension_scores(m, ctx)
    score = weighted_score(dims)
    ko = knockouts(m, ctx)
    gates = go_gates(m)
    return {"dimensions": dims, "score": score, "knockouts": ko, "gates_failed": gates,
            "recommendation": classify(score, len(ko), len(gates))}
