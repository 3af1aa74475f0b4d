"""The simulation config: everything a run needs, as plain JSON built from the earlier stages' outputs."""

from __future__ import annotations

import copy
import math
from typing import Any

from smvm.contracts import Competitors, MarketData, Personas, SimulationConfig, ValidationResult
from smvm.decision import rules
from smvm.simulation.distributions import Z90, correlation_matrix
from smvm.simulation.engine import HORIZON
from smvm.simulation.scenarios import SCENARIO_PATHS, SCENARIOS

MODEL_VERSION = "4.0.0"
MAX_ITERATIONS = 1_000_000
#: Paths every run simulates at least (2^15 scrambled-Sobol paths: P(NPV > 0) within about ±0.35 points at 95 %);
#: also the most worlds the verdict reads (smvm.simulation.worlds: 8 blocks of 4,096).
DECISION_GRADE_PATHS = 32_768
CHUNK_SIZE = 8_192
FAN_PATHS = 16_384
IMPORTANCE_PATHS = 32_768
SOBOL_N = 2_048
# Sobol dimensions go to the inputs with the most variance first: RQMC's gain concentrates in leading dimensions.
# The synthetic landscape is a draw of its own, last.
INPUT_ORDER = ("market_size", "price", "wtp_level", "product_advantage", "churn", "cac", "bass_q", "bass_p",
               "gross_margin", "opex", "competitor_strength", "expansion", "upfront_cost", "discount_rate",
               "shock_volatility", "landscape")
LANDSCAPE = "landscape"
#: Per-replicate confidence intervals reported for these metrics (the verdict has its own, in the worlds).
REPORTED_CIS = ("p_npv_positive", "ltv_cac_p50", "arr_36_p50", "p_breakeven_36")
_SPEC_KEYS = ("distribution", "low", "likely", "high", "unit", "a", "b", "shape", "scale")


def _input(name: str, market_data: dict[str, Any], landscapes: int) -> dict[str, Any]:
    if name == LANDSCAPE:
        return {"name": name, "distribution": "uniform", "low": 0.0, "likely": 0.5, "high": 1.0,
                "unit": f"one of {landscapes} synthetic persona and competitor landscapes", "grade": "synthetic",
                "source": "Synthetic landscapes drawn from the run's seed (see personas and competitors outputs)"}
    spec = market_data["inputs"][name]
    return {"name": name, **{k: spec[k] for k in _SPEC_KEYS if k in spec}, "grade": spec.get("grade", "benchmark"),
            "source": spec.get("source", "")}


def _segments(personas: dict[str, Any]) -> list[dict[str, Any]]:
    segments = []
    for p in personas["personas"]:
        wtp = p["wtp"]
        mult = p["multipliers"]
        segments.append({
            "id": p["id"], "name": p["name"], "sam_share": float(p["sam_share"]),
            "wtp_median": float(wtp["likely"]),
            "wtp_sigma": float(max(math.log(wtp["high"] / wtp["low"]) / (2 * Z90), 1e-3)),
            "p_mult": float(mult["p"]), "q_mult": float(mult["q"]), "churn_mult": float(mult["churn"]),
            "expansion_mult": float(mult["expansion"]), "price_sensitivity": float(p["price_sensitivity"]),
        })
    return segments


def _levers(market_data: dict[str, Any], personas: dict[str, Any]) -> list[dict[str, Any]]:
    """The single changes a founder controls, each a scaling or setting of inputs, or a segment focus."""
    levers = [
        {"name": "price_down", "label": "Cut the price 20 %", "scale": {"price": 0.8}},
        {"name": "price_up", "label": "Raise the price 20 %", "scale": {"price": 1.2}},
        {"name": "channel", "label": "Shift to lower-cost channels (CAC -30 %, reach -15 %)",
         "scale": {"cac": 0.7, "market_size": 0.85}},
        {"name": "lean", "label": "Run leaner (fixed costs -30 %, word of mouth -10 %)",
         "scale": {"opex": 0.7, "bass_q": 0.9}},
        {"name": "retention", "label": "Invest in retention (churn -20 %, fixed costs +5 %)",
         "scale": {"churn": 0.8, "opex": 1.05}},
    ]
    vw = (market_data.get("evidence") or {}).get("van_westendorp")
    price = float(market_data["inputs"]["price"]["likely"])
    if vw:
        low, high = min(vw["pmc"], vw["pme"]), max(vw["pmc"], vw["pme"])
        target = min(max((vw["opp"] + vw["ipp"]) / 2.0, low), high)
        if not low <= price <= high:
            levers.insert(0, {"name": "price_survey", "label": f"Price at the survey's acceptable point (${target:,.2f} "
                                                              "a month)", "set": {"price": target}})
    segs = personas.get("personas") or []
    if len(segs) > 1:
        index, best = max(enumerate(segs), key=lambda e: e[1]["wtp"]["likely"] / max(e[1]["churn_monthly"], 1e-6))
        levers.append({"name": "segment", "label": f"Focus on the '{best['name']}' segment (synthetic persona)",
                       "segment": index})
    return levers


def build_simulation_config(request: dict[str, Any], market_data: MarketData, personas: Personas,
                            competitors: Competitors, *, iterations: int, seed: int, sampler: str = "sobol",
                            scenario: str = "base", decision_grade_paths: int = DECISION_GRADE_PATHS,
                            analyses: dict[str, Any] | None = None,
                            validation: ValidationResult | None = None) -> SimulationConfig:
    """Everything ``run_simulation`` needs, as plain JSON: seed, sampler, path plan, inputs, correlations, the
    synthetic landscapes, market and the verdict's rules and facts.

    ``iterations`` is a floor: the run uses at least ``decision_grade_paths`` scrambled-Sobol paths (see
    docs/market-model.md). ``validation`` (the T0 checks) lets a failed business-logic check reach the verdict.

    :raises ValueError: on an unknown sampler or scenario, or iterations outside 1..MAX_ITERATIONS.
    """
    if sampler not in ("sobol", "mc"):
        raise ValueError(f"unknown sampler {sampler!r}; use 'sobol' or 'mc'")
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
    if not 1 <= int(iterations) <= MAX_ITERATIONS:
        raise ValueError(f"simulation_iterations must be between 1 and {MAX_ITERATIONS}")
    land_p, land_c = personas["landscapes"], competitors["landscapes"]
    inputs = [_input(name, market_data, int(land_p["count"])) for name in INPUT_ORDER]
    corr = correlation_matrix([i["name"] for i in inputs], market_data.get("correlations") or [])
    evidence = market_data.get("evidence") or {}
    traction = evidence.get("traction") or {}
    market = market_data["market"]
    initial = min(max(int(iterations), int(decision_grade_paths)), MAX_ITERATIONS)
    conf_analyses = {"sensitivity": True, "sobol_n": SOBOL_N, "scenarios": True, "scenario_paths": SCENARIO_PATHS,
                     "fan_paths": FAN_PATHS, "importance_paths": IMPORTANCE_PATHS}
    conf_analyses.update(analyses or {})
    live = bool(traction)
    return {
        "model_version": MODEL_VERSION,
        "project_id": request.get("project_id"),
        "run_id": request.get("run_id"),
        "seed": int(seed),
        "sampler": sampler,
        "scenario": scenario,
        "horizon_months": HORIZON,
        "paths": {"requested": int(iterations), "decision_grade_floor": int(decision_grade_paths),
                  "initial": initial, "chunk_size": CHUNK_SIZE, "max_iterations": MAX_ITERATIONS},
        "inputs": inputs,
        "correlation": corr,
        "shocks": {"name": "monthly_shocks", "distribution": "lognormal clock step, mean 1, sigma = shock_volatility",
                   "months": HORIZON},
        "segments": _segments(personas),
        "landscapes": {
            "count": int(land_p["count"]),
            "persona": {k: land_p[k] for k in ("sam_share", "wtp_mult", "p_mult", "q_mult", "churn_mult", "beta_mult")},
            "competitor": {k: land_c[k] for k in ("log_base", "comp_const", "reference_price")},
        },
        "mnl": {"scale": 1.0, "outside_utility": 0.0},
        "market": {
            "sam_accounts": float(market["sam_accounts"]),
            "reference_price": float(market["reference_price"]),
            "som_target_arr": float(market["som"]["value"]),
            "initial_customers": float(traction.get("customers", 0) or 0),
            "initial_mrr": float(traction.get("monthly_revenue", 0.0) or 0.0),
            "traction_months": float(traction.get("months", 0) or 0),
            "launch_delay_months": 0.0 if live else float(market_data["technical"]["launch_delay_months"]),
        },
        "scenarios": copy.deepcopy(SCENARIOS),
        "analyses": conf_analyses,
        "convergence": {"confidence": 0.95, "thresholds": {name: [] for name in REPORTED_CIS},
                        "max_paths": initial},
        "verdict": {
            "facts": rules.facts_for_rules(market_data, validation, int(competitors.get("count", 0))),
            "grades": {i["name"]: i["grade"] for i in inputs},
            "levers": _levers(market_data, personas),
            "flip_points": bool(conf_analyses.get("flip_points", True)),
        },
        "execution": {"threads": 2},
    }
