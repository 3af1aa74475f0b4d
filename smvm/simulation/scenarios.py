"""Named scenarios as data (multipliers and monthly profiles), and their comparison on common random numbers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from smvm.simulation.engine import HORIZON, OUTPUTS, chunk_sizes, simulate
from smvm.simulation.statistics import decision_metrics

if TYPE_CHECKING:
    from smvm.simulation.execution import Plan

#: Paths every scenario runs on (the same draws for all of them).
SCENARIO_PATHS = 4_096


def _profile(fn: Any) -> list[float]:
    return [float(fn(m)) for m in range(1, HORIZON + 1)]


SCENARIOS: dict[str, dict[str, Any]] = {
    "base": {"description": "Inputs as drawn from the priors and evidence"},
    "bear": {"description": "Smaller market, weaker word of mouth, dearer acquisition, more churn",
             "market_mult": 0.75, "q_mult": 0.8, "cac_mult": 1.3, "churn_mult": 1.3, "wtp_mult": 0.9},
    "bull": {"description": "Bigger market, stronger word of mouth, cheaper acquisition, less churn",
             "market_mult": 1.25, "q_mult": 1.2, "cac_mult": 0.8, "churn_mult": 0.8, "wtp_mult": 1.1},
    "downturn": {"description": "Months 7-18: adoption at half speed, churn x1.5, budgets cut (WTP x0.9, CAC x1.15)",
                 "clock_profile": _profile(lambda m: 0.5 if 7 <= m <= 18 else 1.0),
                 "churn_profile": _profile(lambda m: 1.5 if 7 <= m <= 18 else 1.0),
                 "cac_mult": 1.15, "wtp_mult": 0.9},
    "price_cut": {"description": "Price 20 % lower from launch", "price_mult": 0.8},
    "competitor_entry": {"description": "A strong competitor enters in month 12 at 10 % below our price",
                         "entrant": {"month": 12, "utility": 0.8, "price_ratio": 0.9}},
    "hype_cycle": {"description": "Months 1-9 adoption x1.8, then a trough (x0.5 to month 21) with churn x1.4",
                   "clock_profile": _profile(lambda m: 1.8 if m <= 9 else (0.5 if m <= 21 else 1.0)),
                   "churn_profile": _profile(lambda m: 1.4 if 10 <= m <= 24 else 1.0)},
    "seasonality": {"description": "Adoption speed swings ±35 % over the year (peak in month 12)",
                    "clock_profile": _profile(lambda m: 1.0 + 0.35 * math.cos(2.0 * math.pi * m / 12.0))},
}


def scenario_arrays(sc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in sc.items() if k != "description"}
    for key in ("clock_profile", "churn_profile"):
        if key in out:
            out[key] = np.asarray(out[key], dtype=np.float64)
    return out


def scenario_draws(plan: Plan, config: dict[str, Any]) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    # Common random numbers: every scenario sees the same draws, so differences are the scenario, not noise.
    n = int(config["analyses"].get("scenario_paths", SCENARIO_PATHS))
    return [plan.draws(k, s)[1:] for k, s in enumerate(chunk_sizes(n, plan.chunk))]


def scenario_metrics(plan: Plan, scenario: dict[str, Any],
                      draws: list[tuple[dict[str, np.ndarray], np.ndarray]]) -> dict[str, float]:
    sc = scenario_arrays(scenario)
    outs = [simulate(x, z, plan.model, sc) for x, z in draws]
    pooled = {k: np.concatenate([o[k] for o in outs]) for k in OUTPUTS}
    reach = np.concatenate([o["reach_som"] for o in outs])
    return decision_metrics(pooled, reach)


def scenario_results(config: dict[str, Any], found: dict[str, dict[str, float]]) -> dict[str, Any]:
    n = int(config["analyses"].get("scenario_paths", SCENARIO_PATHS))
    base = found["base"]
    out = {}
    for name in config["scenarios"]:
        m = found[name]
        out[name] = {"description": config["scenarios"][name]["description"], "metrics": m,
                     "delta_vs_base": {k: m[k] - base[k] for k in ("p_npv_positive", "npv_p50", "arr_36_p50",
                                                                   "funding_need_p50", "p_reach_som")}}
    return {"paths": n, "common_random_numbers": True, "results": out}
