"""The verdict rules: what makes one plausible world a GO, a PIVOT or a KILL, and its 0–100 score.

A world is one simulated path: one draw of every uncertain input (what we do not know) with its own market noise.
The rules are vectorised over worlds, so the simulation classifies thousands of them at once; the decision is then
the verdict of the middle world (see :func:`verdict_of`), and its confidence the share of worlds that agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

KILL, PIVOT, GO = 0, 1, 2
CLASSES = ("KILL", "PIVOT", "GO")
GO_THRESHOLD = 75.0
KILL_THRESHOLD = 45.0
#: The contract's T0+3 gate: "Market Size: >= $1M TAM".
MIN_TAM = 1_000_000.0
#: A plan whose revenue after three years covers less than this share of its fixed costs shows no real demand.
NO_DEMAND_SHARE = 0.10
GO_LTV_CAC = 3.0
#: CAC payback a GO can carry, in months (Skok and Bessemer: 12–18 for SMB, up to 24–36 for enterprise).
GO_PAYBACK_MONTHS = 24.0
#: A single change rescues a failing world only if it also brings LTV/CAC to at least this (halfway from the
#: must-meet floor of 1 to the GO bar of 3): a change that merely breaks even is not a promising core.
RESCUE_LTV_CAC = 2.0
#: A runner-up verdict with at least this probability makes a run borderline.
BORDERLINE_RUNNER_UP = 0.20

WEIGHTS = {
    "market_opportunity": 0.20,
    "customer_value": 0.15,
    "competitive_position": 0.10,
    "unit_economics": 0.20,
    "financial_viability": 0.25,
    "execution": 0.10,
}

KNOCKOUTS = {
    "unit_economics": "LTV/CAC below 1: each customer costs more to win than it ever returns",
    "no_scale": "Even the whole reachable market cannot pay the fixed costs (steady-state profit below 0)",
    "no_demand": f"Revenue after three years covers less than {NO_DEMAND_SHARE:.0%} of the fixed costs",
    "tam_gate": "Total addressable market below the contract's $1M gate",
    "t0_failed": "A T0 business-logic check failed",
}
GATES = {
    "npv_positive": "NPV above 0",
    "ltv_cac": f"LTV/CAC at least {GO_LTV_CAC:g}",
    "cac_payback": f"CAC paid back within {GO_PAYBACK_MONTHS:g} months",
}


def _clip(x: np.ndarray, lo: float = 0.0, hi: float = 100.0) -> np.ndarray:
    return np.clip(x, lo, hi)


def _log_scale(value: np.ndarray | float, zero_at: float, full_at: float) -> np.ndarray:
    v = np.maximum(np.asarray(value, dtype=np.float64), zero_at * 1e-3)
    return _clip(100.0 * (np.log10(v) - math.log10(zero_at)) / (math.log10(full_at) - math.log10(zero_at)))


def team_score(team: dict[str, Any]) -> tuple[float, str]:
    """0..100 from the stated team facts; 50 (neutral) when none are given, so silence never counts against."""
    if not team:
        return 50.0, "No team facts given: neutral"
    score = 40.0
    parts = []
    if (team.get("founders") or 0) >= 2:
        score += 5.0
        parts.append(f"{team['founders']} founders")
    years = float(team.get("relevant_experience_years") or 0.0)
    score += 2.0 * min(years, 15.0)
    if years:
        parts.append(f"{years:g} years of relevant experience")
    exits = int(team.get("prior_exits") or 0)
    score += 10.0 * min(exits, 2)
    if exits:
        parts.append(f"{exits} prior exit(s)")
    if (team.get("full_time") or 0) >= 3:
        score += 5.0
        parts.append(f"{team['full_time']} full-time")
    return min(score, 100.0), ", ".join(parts) or "team facts given"


def facts_for_rules(market_data: dict[str, Any], validation: dict[str, Any] | None, n_competitors: int) -> dict[str, Any]:
    """The static facts the rules read: market sizes, T0 failures, the execution score and the competitor count."""
    failed = [i for i in (validation or {}).get("issues", []) if i.get("severity") == "failed"]
    team, team_text = team_score(market_data["facts"]["team"])
    feasibility = market_data["technical"]["feasibility_score"]
    return {
        "tam": float(market_data["market"]["tam"]["value"]),
        "sam": float(market_data["market"]["sam"]["value"]),
        "t0_failed": [{"code": i["code"], "message": i["message"]} for i in failed],
        "team_score": team,
        "team_text": team_text,
        "feasibility": float(feasibility),
        "execution": 0.5 * team + 0.5 * float(feasibility),
        "n_competitors": int(n_competitors),
        "cash_on_hand": market_data["facts"]["financials"].get("cash_on_hand"),
    }


def dimension_scores(out: dict[str, np.ndarray], facts: dict[str, Any]) -> dict[str, np.ndarray]:
    """0..100 per dimension for every world, from the kernel's per-path outputs and the static facts."""
    fair = 1.0 / (facts["n_competitors"] + 2.0)
    share_rel = np.maximum(out["market_share"], 1e-9) / fair
    be = out["breakeven_month"]
    n = out["npv"].shape[0]
    return {
        "market_opportunity": 0.7 * _log_scale(out["arr_36"], 1e5, 2e7)
        + 0.3 * _log_scale(facts["sam"], 1e7, 2e9) * np.ones(n),
        "customer_value": 0.6 * _clip(100.0 * (out["acceptance"] - 0.15) / 0.6)
        + 0.4 * _clip(100.0 * (30.0 - out["cac_payback_months"]) / 24.0),
        "competitive_position": _clip(50.0 + 35.0 * np.log2(share_rel)),
        "unit_economics": _clip(100.0 * (out["ltv_cac"] - 1.0) / 4.0),
        "financial_viability": 0.6 * (50.0 + 50.0 * np.tanh(out["npv"] / np.maximum(out["breakeven_arr"], 1.0)))
        + 0.25 * _clip(100.0 * (36.0 - be) / 24.0) + 0.15 * _funding_coverage(out, facts),
        "execution": np.full(n, facts["execution"]),
    }


def _funding_coverage(out: dict[str, np.ndarray], facts: dict[str, Any]) -> np.ndarray:
    """0..100: how much of the world's funding need the stated cash covers (neutral 50 when no cash is stated)."""
    cash = facts.get("cash_on_hand")
    if cash is None:
        return np.full(out["npv"].shape, 50.0)
    return _clip(100.0 * cash / np.maximum(out["funding_need"], 1.0))


def raw_score(dims: dict[str, np.ndarray]) -> np.ndarray:
    """The weighted 0..100 total of the dimensions, before the class bands are applied."""
    total = np.zeros_like(next(iter(dims.values())))
    for name, weight in WEIGHTS.items():
        total += weight * dims[name]
    return total


def knockout_flags(out: dict[str, np.ndarray], facts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per world, which must-meets fail (any one makes the world a KILL)."""
    n = out["npv"].shape[0]
    return {
        "unit_economics": out["ltv_cac"] < 1.0,
        "no_scale": out["steady_profit"] < 0.0,
        "no_demand": out["arr_36"] < NO_DEMAND_SHARE * out["breakeven_arr"],
        "tam_gate": np.full(n, facts["tam"] < MIN_TAM),
        "t0_failed": np.full(n, bool(facts["t0_failed"])),
    }


def gate_flags(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per world, which GO gates fail (a failed gate keeps a viable world at PIVOT)."""
    return {
        "npv_positive": out["npv"] <= 0.0,
        "ltv_cac": out["ltv_cac"] < GO_LTV_CAC,
        "cac_payback": out["cac_payback_months"] > GO_PAYBACK_MONTHS,
    }


def knockout_margins(out: dict[str, np.ndarray], facts: dict[str, Any],
                     knock: dict[str, np.ndarray]) -> np.ndarray:
    """Per world, how close its failing must-meets come to passing (0: hopeless, 1: at the line): the worst one.

    A KILL world's score is this margin scaled into the KILL band. It reads only the must-meets' own metrics, so
    evidence of failure can only lower it (a plan with no customers loses less money than one that wins them at a
    loss, but it is not closer to viable).
    """
    n = out["npv"].shape[0]
    margins = {
        "unit_economics": np.clip(out["ltv_cac"], 0.0, 1.0),
        # The share of the fixed costs the whole reachable market pays; none at all when each customer loses money
        # (then a smaller market only loses less, which is not closer to viable).
        "no_scale": np.where(out["unit_contribution"] > 0,
                             np.clip((out["steady_profit"] + out["opex_monthly"]) / np.maximum(out["opex_monthly"], 1.0),
                                     0.0, 1.0), 0.0),
        "no_demand": np.clip(out["arr_36"] / np.maximum(NO_DEMAND_SHARE * out["breakeven_arr"], 1.0), 0.0, 1.0),
        "tam_gate": np.full(n, min(max(facts["tam"] / MIN_TAM, 0.0), 1.0)),
        "t0_failed": np.zeros(n),
    }
    worst = np.ones(n)
    for name, fails in knock.items():
        np.minimum(worst, np.where(fails, margins[name], 1.0), out=worst)
    return worst


def classify(out: dict[str, np.ndarray], facts: dict[str, Any]) -> dict[str, Any]:
    """Class (KILL 0, PIVOT 1, GO 2), raw score, dimensions and the failing rules of every world."""
    knock = knockout_flags(out, facts)
    gates = gate_flags(out)
    any_knock = np.logical_or.reduce(list(knock.values()))
    any_gate = np.logical_or.reduce(list(gates.values()))
    classes = np.where(any_knock, KILL, np.where(any_gate, PIVOT, GO)).astype(np.int8)
    dims = dimension_scores(out, facts)
    return {"classes": classes, "score": raw_score(dims), "kill_score": KILL_SCORE_MAX * knockout_margins(out, facts, knock),
            "dimensions": dims, "knockouts": knock, "gates": gates}


#: The highest score a KILL world can have (just under the PIVOT line).
KILL_SCORE_MAX = KILL_THRESHOLD - 0.01


def banded_score(found: dict[str, Any], classes: np.ndarray) -> np.ndarray:
    """Scores that agree with each world's (final) class: a KILL world's from its must-meet margins (below 45),
    a PIVOT's raw score held in 45..75, a GO's at 75 and above."""
    low = np.where(classes == GO, GO_THRESHOLD, KILL_THRESHOLD)
    high = np.where(classes == GO, 100.0, GO_THRESHOLD - 0.01)
    return np.where(classes == KILL, found["kill_score"], np.clip(found["score"], low, high))


def band(score: float) -> str:
    """The verdict a 0..100 score stands for."""
    return "GO" if score >= GO_THRESHOLD else "PIVOT" if score >= KILL_THRESHOLD else "KILL"


def verdict_of(world_scores: np.ndarray) -> tuple[str, float]:
    """The verdict of the middle world and its score.

    The score is the upper median of the worlds' banded scores, so the verdict is GO when at least half of the
    plausible worlds are GO, KILL when more than half are KILL, and PIVOT otherwise: the ordinal median, which
    never jumps from GO to KILL over a hedge.
    """
    score = float(np.quantile(world_scores, 0.5, method="higher"))
    return band(score), score


def verdict_probabilities(classes: np.ndarray) -> dict[str, float]:
    counts = np.bincount(classes.astype(np.int64), minlength=3) / max(classes.size, 1)
    return {name: float(counts[code]) for code, name in enumerate(CLASSES)}


def runner_up(probabilities: dict[str, float], verdict: str) -> tuple[str, float]:
    others = sorted(((p, name) for name, p in probabilities.items() if name != verdict), reverse=True)
    return others[0][1], others[0][0]
