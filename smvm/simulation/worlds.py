"""The verdict across plausible worlds.

Every simulated path is one plausible world: one draw of each uncertain input (what we do not know: the market's
size, willingness to pay, adoption, churn, costs, the synthetic persona and competitor landscape) with its own
monthly market noise. The monthly noise moves a path's 36-month outcome little, so a path stands for its world.
Each world is classified by :mod:`smvm.decision.rules`; two checks then make a world's GO or KILL rest on the
client's facts rather than on benchmarks nobody confirmed:

- a KILL world is re-simulated with every benchmark-graded input at its favourable 80th percentile (a guessed
  price at the benchmark's median; the client's own inputs unchanged). If no must-meet fails there, the failure
  rests on unconfirmed benchmarks: the world is a PIVOT that "needs evidence". If one still fails, each single
  change a founder controls (price, channel, costs, retention) is tried on that favourable world; one that clears
  every must-meet with LTV/CAC of at least 2 makes the world a PIVOT with that change. Only what survives both is a
  KILL: the client's facts fail under any plausible assumption and any single change;
- a GO world is re-simulated with every benchmark-graded demand input (adoption, willingness to pay, market size,
  advantage, competition: what the founder cannot simply decide) at its unfavourable 80th percentile; if it
  becomes a KILL or stops creating value (NPV at or below 0), its success rests on unconfirmed demand and it is a
  PIVOT that "needs evidence".

The verdict is the middle world's (:func:`smvm.decision.rules.verdict_of`); P(GO), P(PIVOT) and P(KILL) are the
shares of worlds. All variants run on the worlds' own draws (common random numbers), so they differ only by the
change.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from smvm.decision import rules
from smvm.simulation.distributions import ppf
from smvm.simulation.engine import focus_segment, simulate
from smvm.simulation.statistics import percentiles

if TYPE_CHECKING:
    from smvm.simulation.execution import Plan

#: Worlds per block; the analysis adds blocks while a verdict boundary lies inside the estimate's 95 % interval.
WORLD_BLOCK = 4_096
MAX_WORLD_BLOCKS = 8
#: Worlds the PIVOT suggestions are ranked on (every suggestion on the same worlds).
SUGGESTION_WORLDS = 2_048
#: How favourable (or unfavourable) an unconfirmed benchmark is taken to be when a verdict is checked against it.
CONFIRM_QUANTILE = 0.8
#: +1: a higher value helps the business; -1: a lower one does; 0: the benchmark's median is the favourable
#: assumption (a guessed price: the founder would charge what the category pays). Noise and the landscape have none.
FAVOURABLE = {"price": 0, "market_size": 1, "wtp_level": 1, "bass_p": 1, "bass_q": 1, "expansion": 1, "gross_margin": 1,
              "product_advantage": 1, "churn": -1, "cac": -1, "opex": -1, "upfront_cost": -1,
              "competitor_strength": -1, "discount_rate": -1}
#: What a GO is checked against: demand, which the founder cannot simply decide (costs and price are decisions).
DEMAND_INPUTS = frozenset({"bass_p", "bass_q", "wtp_level", "market_size", "product_advantage", "competitor_strength"})
_REPORTED = ("npv", "arr_36", "ltv_cac", "funding_need", "cac_payback_months")


def _assumption(plan: Plan, grades: dict[str, str], n: int, favourable: bool,
                only: frozenset[str] | None = None) -> dict[str, np.ndarray]:
    """Every benchmark-graded input with a direction (of ``only``, if given), pinned at its favourable (or
    unfavourable) quantile."""
    out = {}
    for spec in plan.specs:
        direction = FAVOURABLE.get(spec["name"])
        if direction is None or grades.get(spec["name"]) != "benchmark" or (direction == 0 and not favourable):
            continue
        if only is not None and spec["name"] not in only:
            continue
        q = 0.5 if direction == 0 else CONFIRM_QUANTILE if (direction > 0) == favourable else 1.0 - CONFIRM_QUANTILE
        out[spec["name"]] = np.full(n, float(ppf(spec, np.array([q]))[0]))
    return out


def _clears_must_meets(out: dict[str, np.ndarray], facts: dict[str, Any]) -> np.ndarray:
    return rules.classify(out, facts)["classes"] != rules.KILL


def _promising(out: dict[str, np.ndarray], facts: dict[str, Any]) -> np.ndarray:
    """A failing world a change rescues: every must-meet clears and unit economics are worth building on."""
    return _clears_must_meets(out, facts) & (out["ltv_cac"] >= rules.RESCUE_LTV_CAC)


def _subset(x: dict[str, np.ndarray], z: np.ndarray, mask: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    return {k: v[mask] for k, v in x.items()}, z[:, mask]


def _apply_lever(plan: Plan, lever: dict[str, Any], x: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], Any]:
    changed = dict(x)
    for name, factor in (lever.get("scale") or {}).items():
        changed[name] = x[name] * factor
    for name, value in (lever.get("set") or {}).items():
        changed[name] = np.full(next(iter(x.values())).shape, float(value))
    model = focus_segment(plan.model, lever["segment"]) if lever.get("segment") is not None else plan.model
    return changed, model


def block_size(plan: Plan) -> int:
    return min(WORLD_BLOCK, plan.chunk)


def block_draws(plan: Plan, block: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Inputs, shocks and input uniforms of world block ``block``: a slice of the main run's own chunks."""
    size = block_size(plan)
    chunk, part = divmod(block, plan.chunk // size)
    u, x, z = plan.draws(chunk, plan.chunk)
    lo, hi = part * size, (part + 1) * size
    return {k: v[lo:hi] for k, v in x.items()}, np.ascontiguousarray(z[:, lo:hi]), np.array(u[lo:hi])


def classify_worlds(plan: Plan, spec: dict[str, Any], base: dict[str, np.ndarray], x: dict[str, np.ndarray],
                    z: np.ndarray, pool: ThreadPoolExecutor) -> dict[str, Any]:
    """Every world's final class and banded score, with the benchmark checks and the single-change rescues.

    ``base`` holds the worlds' simulated outputs, ``x`` and ``z`` their inputs and shocks, ``spec`` the config's
    ``verdict`` block (its ``grades`` say which inputs rest on benchmarks).
    """
    facts = spec["facts"]
    grades = spec["grades"]
    raw = rules.classify(base, facts)
    classes = raw["classes"].copy()
    kill, go = classes == rules.KILL, classes == rules.GO
    jobs = {}
    if kill.any():
        xs, zs = _subset(x, z, kill)
        jobs["optimistic"] = pool.submit(simulate, {**xs, **_assumption(plan, grades, int(kill.sum()), True)}, zs,
                                         plan.model, plan.scenario)
    if go.any():
        xs, zs = _subset(x, z, go)
        pessimistic = _assumption(plan, grades, int(go.sum()), False, only=DEMAND_INPUTS)
        jobs["pessimistic"] = pool.submit(simulate, {**xs, **pessimistic}, zs, plan.model, plan.scenario)
    found = {name: job.result() for name, job in jobs.items()}
    evidence_rescue = np.zeros(classes.shape, dtype=bool)
    if "optimistic" in found:
        evidence_rescue[kill] = _clears_must_meets(found["optimistic"], facts)
    unconfirmed_go = np.zeros(classes.shape, dtype=bool)
    if "pessimistic" in found:
        pessimistic = found["pessimistic"]
        unconfirmed_go[go] = (rules.classify(pessimistic, facts)["classes"] == rules.KILL) | (pessimistic["npv"] <= 0)
    confirmed = kill & ~evidence_rescue
    lever_rescue = np.full(classes.shape, -1, dtype=np.int8)
    if confirmed.any():
        xs, zs = _subset(x, z, confirmed)
        # A change is judged with the unconfirmed benchmarks at their favourable end too: a KILL must hold under
        # any plausible assumption and any single change together.
        xs = {**xs, **_assumption(plan, grades, int(confirmed.sum()), True)}
        futures = []
        for j, lever in enumerate(spec["levers"]):
            # A segment focus leans on the synthetic personas' invented traits: a suggestion, never a rescue.
            if lever.get("segment") is None:
                changed, model = _apply_lever(plan, lever, xs)
                futures.append((j, pool.submit(simulate, changed, zs, model, plan.scenario)))
        idx = np.flatnonzero(confirmed)
        for j, future in futures:
            viable = _promising(future.result(), facts)
            first = viable & (lever_rescue[idx] < 0)
            lever_rescue[idx[first]] = j
    classes[evidence_rescue | (lever_rescue >= 0) | unconfirmed_go] = rules.PIVOT
    return {"raw": raw, "classes": classes, "scores": rules.banded_score(raw, classes),
            "evidence_rescue": evidence_rescue, "lever_rescue": lever_rescue, "unconfirmed_go": unconfirmed_go}


def _needs_evidence(plan: Plan, grades: dict[str, str], u: np.ndarray, scores: np.ndarray,
                    rests_on_benchmarks: np.ndarray) -> list[dict[str, Any]]:
    """The benchmark inputs whose favourable values raise the worlds' scores most (rank correlation over all
    worlds), when some verdict rests on benchmarks: the evidence that would settle it, most telling first."""
    if not rests_on_benchmarks.any():
        return []
    ranks = np.empty(scores.size)
    ranks[np.argsort(scores, kind="stable")] = np.arange(scores.size)
    ranks -= ranks.mean()
    found = []
    for i, spec in enumerate(plan.specs):
        name = spec["name"]
        direction = FAVOURABLE.get(name)
        if not direction or grades.get(name) != "benchmark":
            continue
        favourable = u[:, i] if direction > 0 else 1.0 - u[:, i]
        centred = favourable - favourable.mean()
        denominator = math.sqrt(float((centred * centred).sum() * (ranks * ranks).sum())) or 1.0
        weight = float((centred * ranks).sum()) / denominator
        if weight > 0.1:
            found.append({"input": name, "rank_correlation": round(weight, 4)})
    return sorted(found, key=lambda e: (-e["rank_correlation"], e["input"]))


def _suggestions(plan: Plan, spec: dict[str, Any], pool: ThreadPoolExecutor) -> list[dict[str, Any]]:
    """Each change a founder controls, simulated on the same worlds and judged with the same benchmark checks as
    the plan: its verdict shares and key medians."""
    x, z, _ = block_draws(plan, 0)
    n = min(SUGGESTION_WORLDS, z.shape[1])
    x, z = {k: v[:n] for k, v in x.items()}, np.ascontiguousarray(z[:, :n])

    def judge(lever: dict[str, Any] | None) -> dict[str, Any]:
        changed, model = _apply_lever(plan, lever, x) if lever else (x, plan.model)
        out, raw, classes = _checked(plan, spec, changed, z, model)
        scores = rules.banded_score(raw, classes)
        entry = {"lever": lever["name"] if lever else "plan",
                 "change": lever["label"] if lever else "The plan as stated", "worlds": n,
                 "probabilities": rules.verdict_probabilities(classes),
                 "score": float(np.quantile(scores, 0.5, method="higher"))}
        if lever:
            entry["metrics"] = {f"{k}_p50": float(percentiles(out[k], (50,))[0]) for k in _REPORTED}
        return entry

    found = list(pool.map(judge, [None, *spec["levers"]]))
    for entry in found[1:]:
        entry["score_change"] = entry["score"] - found[0]["score"]
    return found


#: Worlds and steps of the "what would change the verdict" search (per input: the far end first, then bisection).
FLIP_WORLDS = 1_024
FLIP_STEPS = 4
#: Inputs searched, with the multiplier at the far end of the helpful direction.
FLIP_INPUTS = (("churn", 0.25), ("cac", 0.3), ("opex", 0.4), ("wtp_level", 3.0), ("bass_p", 4.0))


def _checked(plan: Plan, spec: dict[str, Any], x: dict[str, np.ndarray], z: np.ndarray,
             model: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any], np.ndarray]:
    """Outputs, raw classification and classes of some worlds with the benchmark checks but without trying single
    changes: what a simulated change or a search step is judged by."""
    facts, grades = spec["facts"], spec["grades"]
    model = model if model is not None else plan.model
    out = simulate(x, z, model, plan.scenario)
    raw = rules.classify(out, facts)
    classes = raw["classes"].copy()
    kill, go = classes == rules.KILL, classes == rules.GO
    if kill.any():
        xs, zs = _subset(x, z, kill)
        optimistic = simulate({**xs, **_assumption(plan, grades, int(kill.sum()), True)}, zs, model, plan.scenario)
        classes[np.flatnonzero(kill)[_clears_must_meets(optimistic, facts)]] = rules.PIVOT
    if go.any():
        xs, zs = _subset(x, z, go)
        pessimistic = simulate({**xs, **_assumption(plan, grades, int(go.sum()), False, only=DEMAND_INPUTS)}, zs,
                               model, plan.scenario)
        doubt = (rules.classify(pessimistic, facts)["classes"] == rules.KILL) | (pessimistic["npv"] <= 0)
        classes[np.flatnonzero(go)[doubt]] = rules.PIVOT
    return out, raw, classes


def _quick_verdict(plan: Plan, spec: dict[str, Any], x: dict[str, np.ndarray], z: np.ndarray) -> str:
    _, raw, classes = _checked(plan, spec, x, z)
    return rules.verdict_of(rules.banded_score(raw, classes))[0]


def _flip_points(plan: Plan, spec: dict[str, Any], verdict: str, pool: ThreadPoolExecutor) -> list[dict[str, Any]]:
    """For a few inputs, the change (a multiplier on every world's value) at which the verdict would move one class
    up (for a GO: one class down), found on the same worlds by bisection; inputs that cannot move it are left out.

    The search judges worlds without the single-change rescues (a step would cost six simulations more); where that
    gives another verdict than the run's (a KILL that only a change rescues), it has no honest starting point and
    finds nothing.
    """
    x, z, _ = block_draws(plan, 0)
    n = min(FLIP_WORLDS, z.shape[1])
    x, z = {k: v[:n] for k, v in x.items()}, np.ascontiguousarray(z[:, :n])
    here = _quick_verdict(plan, spec, x, z)
    if here != verdict:
        return []
    order = ["KILL", "PIVOT", "GO"]
    target = order[order.index(here) - 1] if here == "GO" else order[order.index(here) + 1]
    specs = {s["name"]: s for s in plan.specs}

    def search(name: str, far: float) -> dict[str, Any] | None:
        if here == "GO":
            far = 1.0 / far  # what would make a GO worse
        def moved(factor: float) -> bool:
            verdict_at = _quick_verdict(plan, spec, {**x, name: x[name] * factor}, z)
            return order.index(verdict_at) != order.index(here)
        if not moved(far):
            return None
        near, away = 1.0, far
        for _ in range(FLIP_STEPS - 1):
            mid = math.sqrt(near * away)
            if moved(mid):
                away = mid
            else:
                near = mid
        likely = float(np.median(x[name]))
        return {"input": name, "factor": round(away, 3), "value": likely * away, "from": likely, "verdict": target}

    jobs = [pool.submit(search, name, far) for name, far in FLIP_INPUTS if name in specs]
    found = [job.result() for job in jobs]
    return sorted((f for f in found if f), key=lambda f: abs(math.log(f["factor"])))


def analyse_worlds(plan: Plan, config: dict[str, Any], pooled: dict[str, np.ndarray],
                   pool: ThreadPoolExecutor) -> dict[str, Any]:
    """Classify the main run's leading paths as worlds and return the verdict, its probabilities and the why."""
    spec = config["verdict"]
    grades = spec["grades"]
    parts: list[dict[str, Any]] = []
    uniforms = []
    size = block_size(plan)
    available = max(pooled["npv"].shape[0] // size, 1)
    while True:
        block = len(parts)
        x, z, u = block_draws(plan, block)
        lo = block * size
        base = {k: v[lo:lo + size] for k, v in pooled.items()}
        parts.append(classify_worlds(plan, spec, base, x, z, pool))
        uniforms.append(u)
        classes = np.concatenate([p["classes"] for p in parts])
        probs = rules.verdict_probabilities(classes)
        se = {k: math.sqrt(max(p * (1 - p), 1e-12) / classes.size) for k, p in probs.items()}
        undecided = any(abs(probs[k] - 0.5) < 1.96 * se[k] for k in ("GO", "KILL"))
        if not undecided or block + 1 >= min(MAX_WORLD_BLOCKS, available):
            break
    return _summarise(plan, spec, parts, np.concatenate(uniforms), grades, pool, undecided)


def _summarise(plan: Plan, spec: dict[str, Any], parts: list[dict[str, Any]], u: np.ndarray, grades: dict[str, str],
               pool: ThreadPoolExecutor, undecided: bool) -> dict[str, Any]:
    def cat(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts])

    classes, scores = cat("classes"), cat("scores")
    raw_classes = np.concatenate([p["raw"]["classes"] for p in parts])
    evidence_rescue, lever_rescue, unconfirmed_go = cat("evidence_rescue"), cat("lever_rescue"), cat("unconfirmed_go")
    n = classes.size
    verdict, score = rules.verdict_of(scores)
    probs = rules.verdict_probabilities(classes)
    knock = {name: float(np.concatenate([p["raw"]["knockouts"][name] for p in parts]).mean())
             for name in rules.KNOCKOUTS}
    confirmed_kill = (raw_classes == rules.KILL) & ~evidence_rescue
    confirmed_knock = {name: float((np.concatenate([p["raw"]["knockouts"][name] for p in parts]) & confirmed_kill).mean())
                       for name in rules.KNOCKOUTS}
    viable = raw_classes != rules.KILL
    gates = {name: float((np.concatenate([p["raw"]["gates"][name] for p in parts]) & viable).mean())
             for name in rules.GATES}
    dims = {name: float(np.median(np.concatenate([p["raw"]["dimensions"][name] for p in parts])))
            for name in rules.WEIGHTS}
    levers = spec["levers"]
    rescued_by = {lever["name"]: float((lever_rescue == j).mean()) for j, lever in enumerate(levers)}
    runner, runner_p = rules.runner_up(probs, verdict)
    summary = {
        "worlds": n,
        "blocks": len(parts),
        "verdict": verdict,
        "score": score,
        "score_quantiles": {f"p{q}": float(np.quantile(scores, q / 100, method="higher")) for q in (10, 50, 90)},
        "probabilities": probs,
        "standard_errors": {k: math.sqrt(max(p * (1 - p), 0.0) / n) for k, p in probs.items()},
        "undecided_at_cap": bool(undecided),
        "raw_probabilities": rules.verdict_probabilities(raw_classes),
        "runner_up": {"verdict": runner, "probability": runner_p},
        "borderline": runner_p >= rules.BORDERLINE_RUNNER_UP,
        "knockouts": {name: {"share": knock[name], "confirmed_share": confirmed_knock[name],
                             "rule": rules.KNOCKOUTS[name]} for name in rules.KNOCKOUTS},
        "gates": {name: {"failing_share": gates[name], "rule": rules.GATES[name]} for name in rules.GATES},
        "dimensions": dims,
        "rescue": {"needs_evidence": float(evidence_rescue.mean()), "levers": rescued_by,
                   "unconfirmed_go": float(unconfirmed_go.mean())},
        "needs_evidence": _needs_evidence(plan, grades, u, np.concatenate([p["raw"]["score"] for p in parts]),
                                          evidence_rescue | unconfirmed_go),
        "confirm_quantile": CONFIRM_QUANTILE,
    }
    if verdict == "PIVOT":
        summary["suggestions"] = _suggestions(plan, spec, pool)
    if spec.get("flip_points", True):
        summary["what_would_change_it"] = _flip_points(plan, spec, verdict, pool)
    return summary
