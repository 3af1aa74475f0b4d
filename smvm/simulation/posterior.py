"""Conditioning the plausible worlds on what the client observed in its first weeks (T0+30): the posterior decision.

The T0 run's worlds are the prior: each is one draw of every unknown, simulated month by month. Each also predicts
what the client would observe over the window (customers, churned customers, MRR, acquisition spend). Given the
observations, each world is weighted by their likelihood under it (importance sampling of the prior's own worlds, the
anchors' "weight the prior's simulated worlds by the likelihood of what was observed"): counts are negative binomial
around the world's expectation (Poisson noise plus the model's own misfit), money lognormal around it. The posterior
verdict is the weighted middle world's; inputs the observations pinned down (their range narrowed or moved, see
PINNED_SPREAD and PINNED_SHIFT) count as measured, not benchmarks, when a world's verdict is checked: an observation
consistent with every world says nothing about an input, and must not end the benefit of the doubt its benchmark
got. When the observations sit far out in the prior's tail, the effective sample size collapses: the likelihood is
then tempered (raised to the power that keeps MIN_ESS worlds), and the report says so.
"""

from __future__ import annotations

import copy
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from smvm.contracts import PosteriorResult, SimulationConfig
from smvm.decision import rules
from smvm.intake.observations import given, predictable
from smvm.simulation.engine import simulate
from smvm.simulation.execution import Plan, pool_for
from smvm.simulation.worlds import MAX_WORLD_BLOCKS, WORLD_BLOCK, block_draws, block_size, classify_worlds

#: Negative-binomial dispersion of observed counts around a world's expectation: variance = μ + μ²/φ. Poisson alone
#: would treat the model as exact; φ = 20 allows about ±22 % of misfit on large counts.
COUNT_DISPERSION = 20.0
#: Lognormal sigma of observed money around a world's expectation (price mix, discounts, timing).
MONEY_LOG_SD = {"mrr": 0.15, "acquisition_spend": 0.25}
#: The tempered likelihood keeps at least this many effective worlds.
MIN_ESS = 300
COUNT_OUTPUTS = {"paying_customers": "obs_customers", "churned_customers": "obs_churned"}
MONEY_OUTPUTS = {"mrr": "obs_mrr", "acquisition_spend": "obs_acquisition_spend"}
#: The inputs each observation speaks to: once observed, a world's verdict no longer rests on their benchmarks.
INFORMS = {
    "paying_customers": ("bass_p", "bass_q", "market_size", "wtp_level", "product_advantage", "competitor_strength"),
    "churned_customers": ("churn",),
    "mrr": ("price", "wtp_level"),
    "acquisition_spend": ("cac",),
}
UNUSED = {
    "visitors": "the market model has no visit-to-signup funnel; kept with the run",
    "signups": "the market model counts paying customers, not signups; kept with the run",
    "trials": "the market model counts paying customers, not trials; kept with the run",
    "price_tests": "the model reads acceptance at the planned price only; re-run with evidence.price_points",
    "survey": "willingness to pay is set at T0; re-run with evidence.wtp_survey to use it",
}
REPORT_QUANTILES = (10, 50, 90)
#: An input counts as measured once the observations leave its P10-P90 range at most this share of the prior's...
PINNED_SPREAD = 0.8
#: ...or move its median by at least this share of the prior's P10-P90 range.
PINNED_SHIFT = 0.25


def _negbin_logpmf(y: float, mu: np.ndarray, phi: float = COUNT_DISPERSION) -> np.ndarray:
    from scipy.special import gammaln

    mu = np.maximum(mu, 1e-9)
    return (gammaln(y + phi) - gammaln(phi) - gammaln(y + 1.0) + phi * np.log(phi / (phi + mu))
            + y * np.log(mu / (phi + mu)))


def log_likelihoods(outputs: dict[str, np.ndarray], observed: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per observed metric the model can predict, the log-likelihood of the observation in every world."""
    found = {}
    for name, output in COUNT_OUTPUTS.items():
        if observed.get(name) is not None:
            found[name] = _negbin_logpmf(float(observed[name]), outputs[output])
    for name, output in MONEY_OUTPUTS.items():
        if observed.get(name) is not None:
            sd = MONEY_LOG_SD[name]
            predicted = np.log(np.maximum(outputs[output], 1e-6))
            value = math.log(max(float(observed[name]), 1e-6))
            found[name] = -0.5 * ((value - predicted) / sd) ** 2 - math.log(sd)
    return found


def effective_sample_size(weights: np.ndarray) -> float:
    total = weights.sum()
    return float(total * total / max((weights * weights).sum(), 1e-300))


def tempered_weights(log_likelihood: np.ndarray, min_ess: float = MIN_ESS) -> tuple[np.ndarray, float, float]:
    """Normalised weights exp(β·ℓ) with the largest β ≤ 1 whose effective sample size is at least ``min_ess``.

    :returns: (weights, β, effective sample size).
    """
    def weights_at(beta: float) -> np.ndarray:
        scaled = beta * log_likelihood
        w = np.exp(scaled - scaled.max())
        return w / w.sum()

    full = weights_at(1.0)
    if effective_sample_size(full) >= min_ess or log_likelihood.size <= min_ess:
        return full, 1.0, effective_sample_size(full)
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if effective_sample_size(weights_at(mid)) >= min_ess:
            lo = mid
        else:
            hi = mid
    w = weights_at(lo)
    return w, lo, effective_sample_size(w)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles (in percent) of ``values`` under ``weights``: the smallest value whose cumulative weight reaches q."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    cum /= cum[-1]
    # The tolerance keeps a cumulative weight that sums to the level in exact arithmetic from missing it by rounding.
    idx = np.searchsorted(cum, np.asarray(qs, dtype=float) / 100.0 - 1e-12, side="left")
    return values[order][np.minimum(idx, values.size - 1)].tolist()


def _weighted_probabilities(classes: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    return {name: float(weights[classes == code].sum() / weights.sum()) for code, name in enumerate(rules.CLASSES)}


def _weighted_verdict(scores: np.ndarray, weights: np.ndarray) -> tuple[str, float]:
    """The weighted middle world, with the same upper-median rule as the T0 verdict."""
    order = np.argsort(scores, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    # Upper median: the first world whose cumulative weight passes one half (ties go up, as at T0).
    score = float(scores[order][min(int(np.searchsorted(cum, 0.5, side="right")), scores.size - 1)])
    return rules.band(score), score


#: Draws of the observation noise per world when the predictive's quantiles are read off samples.
PREDICTIVE_DRAWS = 8


def predictive_quantiles(outputs: dict[str, np.ndarray], name: str, qs: tuple[float, ...]) -> list[float]:
    """Quantiles (percent) of what the client would observe under the prior predictive: the same distribution the
    PIT reads (each world's expectation with the likelihood's noise), so an observation at the forecast's P90 has a
    PIT near 0.9. Read off a fixed set of draws, so the same run always gives the same figures."""
    rng = np.random.default_rng(20_261_204)
    if name in COUNT_OUTPUTS:
        mu = np.repeat(np.maximum(outputs[COUNT_OUTPUTS[name]], 1e-9), PREDICTIVE_DRAWS)
        draws = rng.poisson(rng.gamma(COUNT_DISPERSION, mu / COUNT_DISPERSION)).astype(float)
        return [float(v) for v in np.percentile(draws, qs, method="inverted_cdf")]
    predicted = np.repeat(np.log(np.maximum(outputs[MONEY_OUTPUTS[name]], 1e-6)), PREDICTIVE_DRAWS)
    draws = np.exp(predicted + rng.normal(0.0, MONEY_LOG_SD[name], predicted.size))
    return [float(v) for v in np.percentile(draws, qs)]


def predictive_pit(outputs: dict[str, np.ndarray], name: str, value: float) -> float:
    """Where ``value`` falls in the prior predictive of metric ``name`` (a mixture over the unweighted worlds of the
    observation noise the likelihood assumes): a mid-PIT for counts, so a well-calibrated forecast gives uniform PITs."""
    from scipy.stats import nbinom, norm

    if name in COUNT_OUTPUTS:
        mu = np.maximum(outputs[COUNT_OUTPUTS[name]], 1e-9)
        p = COUNT_DISPERSION / (COUNT_DISPERSION + mu)
        below = nbinom.cdf(value - 1, COUNT_DISPERSION, p) if value > 0 else np.zeros_like(mu)
        at = nbinom.pmf(value, COUNT_DISPERSION, p)
        return float(np.mean(below + 0.5 * at))
    predicted = np.log(np.maximum(outputs[MONEY_OUTPUTS[name]], 1e-6))
    return float(np.mean(norm.cdf((math.log(max(value, 1e-6)) - predicted) / MONEY_LOG_SD[name])))


def _window_months(window_days: int) -> int:
    return int(min(max(round(window_days / 30.0), 1), 12))


def update(config: SimulationConfig, observations: dict[str, Any], *, threads: int | None = None) -> PosteriorResult:
    """The posterior document for a T0 simulation ``config`` and the client's ``observations`` (see
    ``smvm.intake.observations``). Deterministic: the worlds are the T0 run's own draws.

    :raises ValueError: if nothing observed is something the model predicts.
    """
    observed = given(observations)
    usable = predictable(observed)
    if not usable:
        raise ValueError("no observation the model can predict: send paying_customers, churned_customers, mrr or "
                         "acquisition_spend")
    window_days = int(observed.get("window_days", 30))
    cfg = copy.deepcopy(config)
    cfg["market"]["observation_months"] = _window_months(window_days)
    plan = Plan(cfg)
    pool = pool_for(max(1, int(threads if threads is not None else cfg.get("execution", {}).get("threads", 1))))
    prior_spec = cfg["verdict"]
    blocks = _simulate_blocks(plan, pool)
    outputs = {k: np.concatenate([b["out"][k] for b in blocks]) for k in blocks[0]["out"] if k != "monthly"}
    xs = {k: np.concatenate([b["x"][k] for b in blocks]) for k in blocks[0]["x"]}
    loglik = log_likelihoods(outputs, observed)
    total = np.sum(list(loglik.values()), axis=0)
    weights, beta, ess = tempered_weights(total)
    inputs = _inputs(xs, weights, usable)
    measured = {row["input"] for row in inputs if row["pinned"]}
    spec = {**prior_spec, "grades": {k: ("measured" if k in measured and g == "benchmark" else g)
                                     for k, g in prior_spec["grades"].items()}}
    prior_cls = [classify_worlds(plan, prior_spec, b["out"], b["x"], b["z"], pool) for b in blocks]
    post_cls = [classify_worlds(plan, spec, b["out"], b["x"], b["z"], pool) for b in blocks]
    prior_classes = np.concatenate([c["classes"] for c in prior_cls])
    prior_scores = np.concatenate([c["scores"] for c in prior_cls])
    classes = np.concatenate([c["classes"] for c in post_cls])
    scores = np.concatenate([c["scores"] for c in post_cls])
    uniform = np.full(classes.size, 1.0 / classes.size)
    prior = {"probabilities": _weighted_probabilities(prior_classes, uniform)}
    prior["verdict"], prior["score"] = _weighted_verdict(prior_scores, uniform)
    post_probs = _weighted_probabilities(classes, weights)
    verdict, score = _weighted_verdict(scores, weights)
    runner, runner_p = rules.runner_up(post_probs, verdict)
    return {
        "window_days": window_days,
        "window_months": cfg["market"]["observation_months"],
        "observations": observed,
        "used": [{"observation": name, "informs": list(INFORMS[name])} for name in usable],
        "unused": [{"observation": name, "reason": UNUSED[name]} for name in UNUSED if name in observed],
        "likelihood": {"counts": f"negative binomial, dispersion {COUNT_DISPERSION:g}",
                       "money": {k: f"lognormal, sigma {v:g}" for k, v in MONEY_LOG_SD.items()},
                       "tempering": beta, "effective_worlds": ess, "worlds": int(classes.size),
                       "tempered": beta < 1.0},
        "prior": prior,
        "posterior": {"verdict": verdict, "score": score, "probabilities": post_probs,
                      "borderline": runner_p >= rules.BORDERLINE_RUNNER_UP,
                      "runner_up": {"verdict": runner, "probability": runner_p}},
        "moved_most": _moved_most(loglik, classes, prior_classes),
        "inputs": inputs,
        "measured": sorted(measured & {k for k, g in prior_spec["grades"].items() if g == "benchmark"}),
        "outputs": _outputs(outputs, weights),
        "fans": _fans(blocks[0], weights[:blocks[0]["n"]]),
        "predictive": {name: {"observed": float(observed[name]), "pit": predictive_pit(outputs, name, float(observed[name])),
                              "prior_quantiles": predictive_quantiles(outputs, name, REPORT_QUANTILES)}
                       for name in usable},
    }


def _simulate_blocks(plan: Plan, pool: ThreadPoolExecutor) -> list[dict[str, Any]]:
    """Every world block's inputs, shocks and outputs (the first with monthly series, for the fan charts)."""
    def one(block: int) -> dict[str, Any]:
        x, z, _ = block_draws(plan, block)
        out = simulate(x, z, plan.model, plan.scenario, keep_monthly=block == 0)
        return {"x": x, "z": z, "out": out, "n": z.shape[1]}

    count = MAX_WORLD_BLOCKS * WORLD_BLOCK // block_size(plan)
    return list(pool.map(one, range(count)))


def _moved_most(loglik: dict[str, np.ndarray], classes: np.ndarray, prior_classes: np.ndarray) -> list[dict[str, Any]]:
    """Each observation alone against the prior: how far it moves the verdict probabilities (half the L1 distance,
    0..1), most first."""
    uniform = np.full(classes.size, 1.0 / classes.size)
    before = _weighted_probabilities(prior_classes, uniform)
    found = []
    for name, ll in loglik.items():
        w, beta, _ = tempered_weights(ll)
        after = _weighted_probabilities(classes, w)
        shift = 0.5 * sum(abs(after[k] - before[k]) for k in before)
        found.append({"observation": name, "shift": shift, "probabilities": after, "tempering": beta})
    return sorted(found, key=lambda e: (-e["shift"], e["observation"]))


def _inputs(xs: dict[str, np.ndarray], weights: np.ndarray, usable: list[str]) -> list[dict[str, Any]]:
    uniform = np.full(weights.size, 1.0 / weights.size)
    rows = []
    for name in dict.fromkeys(n for metric in usable for n in INFORMS[metric]):
        if name not in xs:
            continue
        prior = dict(zip(("p10", "p50", "p90"), weighted_quantiles(xs[name], uniform, REPORT_QUANTILES), strict=True))
        post = dict(zip(("p10", "p50", "p90"), weighted_quantiles(xs[name], weights, REPORT_QUANTILES), strict=True))
        rows.append({"input": name, "observations": [m for m in usable if name in INFORMS[m]],
                     "prior": prior, "posterior": post, "pinned": _pinned(prior, post)})
    return rows


def _pinned(prior: dict[str, float], post: dict[str, float]) -> bool:
    """Whether the observations told us about an input: its range narrowed, or its median moved, materially."""
    spread = prior["p90"] - prior["p10"]
    if spread <= 0:
        return False
    return (post["p90"] - post["p10"] <= PINNED_SPREAD * spread
            or abs(post["p50"] - prior["p50"]) >= PINNED_SHIFT * spread)


def _outputs(outputs: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, Any]:
    uniform = np.full(weights.size, 1.0 / weights.size)
    revenue = outputs["revenue_y1"] + outputs["revenue_y2"] + outputs["revenue_y3"]
    found = {"revenue_36": revenue, "arr_36": outputs["arr_36"], "npv": outputs["npv"]}
    return {name: {"prior": dict(zip(("p10", "p50", "p90"), weighted_quantiles(v, uniform, REPORT_QUANTILES),
                                     strict=True)),
                   "posterior": dict(zip(("p10", "p50", "p90"), weighted_quantiles(v, weights, REPORT_QUANTILES),
                                         strict=True))}
            for name, v in found.items()}


def _fans(block: dict[str, Any], weights: np.ndarray) -> dict[str, Any]:
    monthly = block["out"]["monthly"]["revenue"]
    uniform = np.full(weights.size, 1.0 / weights.size)
    months = monthly.shape[0]

    def fan(w: np.ndarray) -> dict[str, list[float]]:
        rows = [weighted_quantiles(monthly[t], w, REPORT_QUANTILES) for t in range(months)]
        return {f"p{q}": [row[i] for row in rows] for i, q in enumerate(REPORT_QUANTILES)}

    return {"months": list(range(1, months + 1)), "prior": fan(uniform), "posterior": fan(weights / weights.sum())}
