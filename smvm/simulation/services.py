"""Build the simulation config and run the chunked, reproducible Monte Carlo with sensitivity and scenarios."""

from __future__ import annotations

import copy
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from smvm.simulation.distributions import Z90, _special, correlation_matrix, lognormal_from_normal, ppf
from smvm.simulation.engine import BLOCK, HORIZON, NEVER, prepare_model, simulate, thread_scratch
from smvm.simulation.scenarios import SCENARIOS
from smvm.simulation.sobol import sobol_points

MODEL_VERSION = "3.0.0"
MAX_ITERATIONS = 1_000_000
DECISION_GRADE_PATHS = 65_536
CHUNK_SIZE = 8_192
EXTENSION_CAP = 262_144
FAN_PATHS = 16_384
IMPORTANCE_PATHS = 65_536
SCENARIO_PATHS = 4_096
SOBOL_N = 2_048
PERCENTILES = (5, 10, 50, 90, 95)
# Sobol dimensions go to the inputs with the most variance first: RQMC's gain concentrates in leading dimensions.
INPUT_ORDER = ("market_size", "price", "wtp_level", "product_advantage", "churn", "cac", "bass_q", "bass_p",
               "gross_margin", "opex", "competitor_strength", "expansion", "upfront_cost", "discount_rate",
               "shock_volatility")
SHOCK_GROUP = "monthly_shocks"
_HALF = np.array([0.5])
# Decision thresholds the convergence check watches (mirrors smvm.decision.scoring's knock-outs and GO gates).
THRESHOLDS = {"p_npv_positive": [0.15, 0.60], "ltv_cac_p50": [1.0, 3.0], "p_breakeven_24": [0.5]}
_OUTPUTS = ("npv", "revenue_y1", "revenue_y2", "revenue_y3", "arr_36", "customers_36", "funding_need", "cash_36",
            "breakeven_month", "payback_month", "roi", "ltv_cac", "cac_payback_months", "acceptance",
            "market_share", "ceiling_accounts")
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042}


def _t975(df: int) -> float:
    if df <= 0:
        return float("inf")
    keys = [k for k in _T975 if k <= df]
    return 1.96 if df > 30 else _T975[max(keys)]


def build_simulation_config(request: dict[str, Any], market_data: dict[str, Any], personas: dict[str, Any],
                            competitors: dict[str, Any], *, iterations: int, seed: int, sampler: str = "sobol",
                            scenario: str = "base", decision_grade_paths: int = DECISION_GRADE_PATHS,
                            analyses: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything ``run_simulation`` needs, as plain JSON: seed, sampler, path plan, inputs, correlations, market.

    ``iterations`` is a floor: the run uses at least ``decision_grade_paths`` scrambled-Sobol paths (see
    docs/market-model.md) and may extend itself up to the convergence cap when a verdict metric is on a threshold.

    :raises ValueError: on an unknown sampler or scenario, or iterations outside 1..MAX_ITERATIONS.
    """
    if sampler not in ("sobol", "mc"):
        raise ValueError(f"unknown sampler {sampler!r}; use 'sobol' or 'mc'")
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
    if not 1 <= int(iterations) <= MAX_ITERATIONS:
        raise ValueError(f"simulation_iterations must be between 1 and {MAX_ITERATIONS}")
    inputs = []
    for name in INPUT_ORDER:
        spec = market_data["inputs"][name]
        inputs.append({"name": name, **{k: spec[k] for k in ("distribution", "low", "likely", "high", "unit")},
                       "grade": spec.get("grade", "benchmark"), "source": spec.get("source", "")})
    names = [i["name"] for i in inputs]
    corr = correlation_matrix(names, market_data.get("correlations") or [])
    prior = market_data["inputs"]

    def _ratio(value: float, base: float) -> float:
        return float(value / base) if base else 1.0

    segments = []
    for p in personas["personas"]:
        wtp = p["wtp"]
        segments.append({
            "id": p["id"], "name": p["name"], "sam_share": float(p["sam_share"]),
            "wtp_median": float(wtp["likely"]),
            "wtp_sigma": float(max(math.log(wtp["high"] / wtp["low"]) / (2 * Z90), 1e-3)),
            "p_mult": _ratio(p["adoption"]["p"], prior["bass_p"]["likely"]),
            "q_mult": _ratio(p["adoption"]["q"], prior["bass_q"]["likely"]),
            "churn_mult": _ratio(p["churn_monthly"], prior["churn"]["likely"]),
            "expansion_mult": _ratio(p["expansion"], prior["expansion"]["likely"]) if prior["expansion"]["likely"]
            else 1.0,
            "price_sensitivity": float(p.get("price_sensitivity", 1.0)),
        })
    traction = (market_data.get("evidence") or {}).get("traction") or {}
    market = market_data["market"]
    initial = min(max(int(iterations), int(decision_grade_paths)), MAX_ITERATIONS)
    conf_analyses = {"sensitivity": True, "sobol_n": SOBOL_N, "scenarios": True, "scenario_paths": SCENARIO_PATHS,
                     "fan_paths": FAN_PATHS, "importance_paths": IMPORTANCE_PATHS}
    conf_analyses.update(analyses or {})
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
        "shocks": {"name": SHOCK_GROUP, "distribution": "lognormal clock step, mean 1, sigma = shock_volatility",
                   "months": HORIZON},
        "segments": segments,
        "competitors": [{"id": c["id"], "name": c["name"], "utility": float(c["strength"]),
                         "price": float(max(c["price"], 1e-6))} for c in competitors["competitors"]],
        "mnl": {"scale": 1.0, "outside_utility": 0.0},
        "market": {
            "sam_accounts": float(market["sam_accounts"]),
            "reference_price": float(market["reference_price"]),
            "som_target_arr": float(market["som"]["value"]),
            "initial_customers": float(traction.get("customers", 0) or 0),
            "initial_mrr": float(traction.get("monthly_revenue", 0.0) or 0.0),
        },
        "scenarios": copy.deepcopy(SCENARIOS),
        "analyses": conf_analyses,
        "convergence": {"confidence": 0.95, "thresholds": copy.deepcopy(THRESHOLDS),
                        "max_paths": max(initial, min(EXTENSION_CAP, MAX_ITERATIONS))},
        "execution": {"threads": 2},
    }


class _Plan:
    """Per-run constants shared by every chunk (read-only, so threads can share it)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.specs = config["inputs"]
        self.names = [s["name"] for s in self.specs]
        self.d = len(self.specs)
        self.seed = int(config["seed"])
        self.sampler = config["sampler"]
        self.chunk = int(config["paths"]["chunk_size"])
        self.model = prepare_model(config)
        gauss = np.array(config["correlation"]["gaussian"], dtype=np.float64)
        off = np.abs(gauss - np.eye(self.d)) > 0
        self.active = np.flatnonzero(off.any(axis=0))
        self.active_col = {int(i): j for j, i in enumerate(self.active)}
        self.chol = np.linalg.cholesky(gauss[np.ix_(self.active, self.active)]) if self.active.size else None
        # The Cholesky factor as (column, weight) terms per row, diagonal first: the copula's products run as a
        # few vector operations instead of a BLAS call (whose idle threads spin against the chunk workers).
        self.chol_terms = [[(j, float(self.chol[j, j]))] + [(c, float(self.chol[j, c])) for c in range(j)
                                                             if self.chol[j, c] != 0.0]
                           for j in range(self.active.size)]
        self.gauss = gauss
        self.scenario = _scenario_arrays(config["scenarios"][config["scenario"]])
        an = config["analyses"]
        self.fan_paths = int(an.get("fan_paths", FAN_PATHS))
        self.importance_paths = int(an.get("importance_paths", IMPORTANCE_PATHS))

    def variates(self, k: int, n: int, *, scratch: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``k``'s raw variates: ``n`` input uniforms (n, d) and the monthly normals (HORIZON, n).

        One stream per fixed-size chunk (never per thread) makes results identical for any thread count. With
        ``scratch`` they are drawn into this thread's reused buffers (valid until its next chunk): a fresh
        multi-MB array costs about as much in page faults as drawing its normals.
        """
        ss = np.random.SeedSequence(self.seed, spawn_key=(k,))
        s_u, s_z = ss.spawn(2)
        if self.sampler == "sobol":
            u = sobol_points(n, self.d, np.random.default_rng(s_u),
                             out=thread_scratch("draw_u", (self.d, n)) if scratch else None)
        else:
            u = np.random.default_rng(s_u).random((n, self.d))
        z_rng = np.random.default_rng(s_z)
        z = z_rng.standard_normal(out=thread_scratch("draw_z", (HORIZON, n))) if scratch else z_rng.standard_normal((HORIZON, n))
        return u, z

    def draws(self, k: int, n: int, *, correlated: bool = True, scratch: bool = False,
              keep_u: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Chunk ``k``'s uniforms (the copula's, for rank importance), inputs and monthly normals.

        Without ``keep_u`` the returned uniforms of correlated lognormal inputs are not filled in (not needed).
        """
        u, z = self.variates(k, n, scratch=scratch)
        if not correlated or self.active.size == 0:
            return u, {s["name"]: ppf(s, u[:, i]) for i, s in enumerate(self.specs)}, z
        # Gaussian copula: correlated normals for the active columns; lognormal inputs take theirs directly
        # (no ndtr/ndtri round trip), the others go back to uniforms for their inverse CDF.
        sp = _special()
        normals = [sp.ndtri(u[:, i]) for i in self.active]
        zc = []
        for j, ((_, diag), *rest) in enumerate(self.chol_terms):
            if diag == 1.0 and not rest:
                zc.append(normals[j])
                continue
            acc = normals[j] * diag
            for col, w in rest:
                acc += w * normals[col]
            zc.append(acc)
        x = {}
        for j, i in enumerate(self.active):
            if keep_u or self.specs[i]["distribution"] != "lognormal":
                sp.ndtr(zc[j], out=u[:, i])
        for i, s in enumerate(self.specs):
            col = self.active_col.get(i)
            if col is not None and s["distribution"] == "lognormal":
                x[s["name"]] = lognormal_from_normal(s, zc[col])
            else:
                x[s["name"]] = ppf(s, u[:, i])
        return u, x, z

    def run_chunk(self, k: int, n: int, offset: int, dest: dict[str, np.ndarray]) -> dict[str, Any]:
        """Simulate chunk ``k`` (``n`` paths) and write its per-path outputs into ``dest[name][offset:offset+n]``."""
        start = k * self.chunk
        keep_u = start < self.importance_paths
        u, x, z = self.draws(k, n, scratch=True, keep_u=keep_u)
        out = simulate(x, z, self.model, self.scenario, keep_monthly=start < self.fan_paths)
        outputs = {}
        for name in _OUTPUTS:
            view = dest[name][offset:offset + n]
            view[...] = out[name]
            outputs[name] = view
        res: dict[str, Any] = {"n": n}
        if "monthly" in out:
            res["monthly"] = out["monthly"]
        if keep_u:
            res["u"] = u.T.astype(np.float32)  # (d, n): one contiguous row per input
        res["metrics"] = _metrics(outputs, out["reach_som"])
        return res


def _scenario_arrays(sc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in sc.items() if k != "description"}
    for key in ("clock_profile", "churn_profile"):
        if key in out:
            out[key] = np.asarray(out[key], dtype=np.float64)
    return out


_QUANTILED = ("npv", "arr_36", "ltv_cac", "revenue_y3", "funding_need", "roi", "cac_payback_months",
              "breakeven_month")


def _metrics(o: dict[str, np.ndarray], reach: np.ndarray | None = None,
             summaries: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    """Decision metrics of a block of paths; ``summaries`` (from ``_summary``) supplies already computed
    percentiles so a large pooled run partitions each output once."""
    npv = o["npv"]
    if summaries is None:
        # Only the percentiles used below: P10/P50 of NPV, P50/P90 of ARR, P50 of six more (one call).
        summaries = {name: {} for name in _QUANTILED}
        summaries["npv"]["p10"], summaries["npv"]["p50"] = _percentiles(npv, (10, 50)).tolist()
        summaries["arr_36"]["p50"], summaries["arr_36"]["p90"] = _percentiles(o["arr_36"], (50, 90)).tolist()
        for name in _QUANTILED[2:]:
            summaries[name]["p50"] = float(_percentiles(o[name], (50,))[0])
    s = summaries
    be = o["breakeven_month"]
    return {
        "p_npv_positive": float(np.count_nonzero(npv > 0) / npv.size),
        "npv_p50": s["npv"]["p50"],
        "npv_p10": s["npv"]["p10"],
        "ltv_cac_p50": s["ltv_cac"]["p50"],
        "p_breakeven_24": float(np.count_nonzero(be <= 24) / be.size),
        "p_breakeven_36": float(np.count_nonzero(be <= HORIZON) / be.size),
        "arr_36_p50": s["arr_36"]["p50"],
        "arr_36_p90": s["arr_36"]["p90"],
        "revenue_y3_p50": s["revenue_y3"]["p50"],
        "p_reach_som": float(np.count_nonzero(reach) / reach.size) if reach is not None else float("nan"),
        "funding_need_p50": s["funding_need"]["p50"],
        "roi_p50": s["roi"]["p50"],
        "cac_payback_p50": s["cac_payback_months"]["p50"],
        "acceptance_mean": float(np.mean(o["acceptance"])),
        "market_share_mean": float(np.mean(o["market_share"])),
        "breakeven_p50": s["breakeven_month"]["p50"],
    }


def _ranks(n: int, qs: tuple[float, ...] | list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's "linear" percentile method for ``n`` values: per percentile, the rank of the lower order statistic,
    whether it is the top one (numpy then takes the maximum), and the weight (virtual index (n−1)·q)."""
    q = np.true_divide(np.asarray(qs), 100)
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    top = virtual >= n - 1
    prev[top] = n - 1
    gamma = virtual - np.where(top, -1.0, prev)
    return prev.astype(np.intp), top, gamma


def _lerp(lo: np.ndarray, hi: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """numpy's percentile interpolation, operation for operation (so results match it bit for bit)."""
    diff = hi - lo
    res = lo + diff * gamma
    np.subtract(hi, diff * (1 - gamma), out=res, where=gamma >= 0.5)
    return res


def _percentiles(a: np.ndarray, qs: tuple[float, ...] | list[float]) -> np.ndarray:
    """``np.percentile(a, qs)`` (method "linear") of a 1-D float array, bit for bit, cheaper for the per-chunk
    and per-scenario sizes (≤ 32k values; 1.6 → 0.9 ms for one chunk's replicate metrics).

    numpy partitions at both neighbours of every percentile plus the minimum and maximum and has ~60 µs of
    overhead; here only the lower neighbours are partition points, and an upper neighbour is the minimum of the
    segment that follows it. Larger arrays are sorted instead (``_sorted_percentiles``).
    """
    n = a.size
    if n > 32_768:
        return _sorted_percentiles(np.sort(a), qs)
    if n < 2:
        return np.percentile(a, qs)
    rank, top, gamma = _ranks(n, qs)
    lo_rank = rank.tolist()
    kth = sorted(set(lo_rank))
    work = a.copy()
    work.partition(kth)
    if np.isnan(work[kth[-1]:]).any():
        return np.percentile(a, qs)
    ends = [*kth[1:], n - 1]
    upper = {k: (work[k + 1] if k + 1 == end else work[k + 1:end + 1].min()) if k + 1 < n else work[k]
             for k, end in zip(kth, ends, strict=True)}
    lo = work[lo_rank]
    hi = np.array([upper[k] if not t else work[k] for k, t in zip(lo_rank, top.tolist(), strict=True)])
    return _lerp(lo, hi, gamma)


def _sorted_percentiles(s: np.ndarray, qs: tuple[float, ...] | list[float]) -> np.ndarray:
    """``np.percentile(a, qs, axis=-1)`` bit for bit from ``s = np.sort(a, axis=-1)``, shaped (..., len(qs)).

    Above ~30k values one sort is cheaper than numpy's introselect at several points (≈ 2× for 64k values or 16k-value
    fan rows, 1.5× at 1M); the order statistics, hence the results, are the same. NaN sorts last and makes every
    percentile NaN, as in numpy.
    """
    n = s.shape[-1]
    rank, top, gamma = _ranks(n, qs)
    res = _lerp(s[..., rank], s[..., np.where(top, rank, rank + 1)], gamma)
    res[np.isnan(s[..., -1])] = np.nan
    return res


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
_POOL_PREFIX = "smvm-simulation"


def _pool(n_threads: int) -> ThreadPoolExecutor:
    """This process's pool of ``n_threads`` workers, created on first use and kept: a worker process runs many
    simulations, and a fresh pool would start threads without their per-thread scratch buffers (~15 MB each to
    allocate and page-fault again). Keyed by pid, so a forked child never uses its parent's (dead) threads."""
    if threading.current_thread().name.startswith(_POOL_PREFIX):
        # A run started from inside one of these pools' tasks must not wait on its own (busy) workers.
        return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix=_POOL_PREFIX + "-nested")
    key = (os.getpid(), n_threads)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix=_POOL_PREFIX)
    return pool


def compare_variants(config: dict[str, Any], variants: list[tuple[dict[str, float], dict[str, Any] | None]], *,
                     paths: int, threads: int = 2) -> list[dict[str, float]]:
    """The decision metrics of ``config``'s model under each variant, every variant on the same draws.

    A variant is ``(scale_input, model_config)``: factors applied to input draws (every marginal here is
    scale-equivariant, so scaling a draw equals drawing from the distribution with scaled low/likely/high), and a
    config whose segments and market replace the model's (``None`` keeps them). Common random numbers make the
    differences between variants the change itself, not noise; one draw serves them all.
    """
    plan = _Plan(config)
    _, x, z = plan.draws(0, paths)

    def evaluate(variant: tuple[dict[str, float], dict[str, Any] | None]) -> dict[str, float]:
        scale_input, model_config = variant
        scaled = {name: values * scale_input[name] if name in scale_input else values for name, values in x.items()}
        model = prepare_model(model_config) if model_config is not None else plan.model
        out = simulate(scaled, z, model, plan.scenario)
        return _metrics(out, out["reach_som"])

    return list(_pool(threads).map(evaluate, variants))


def _chunk_sizes(total: int, chunk: int) -> list[int]:
    sizes = [chunk] * (total // chunk)
    if total % chunk:
        sizes.append(total % chunk)
    return sizes


def _convergence(replicates: list[dict[str, float]], thresholds: dict[str, list[float]]) -> dict[str, Any]:
    r = len(replicates)
    t = _t975(r - 1)
    metrics = {}
    for name, ths in thresholds.items():
        vals = np.array([rep[name] for rep in replicates])
        mean = float(vals.mean())
        half = float(t * vals.std(ddof=1) / math.sqrt(r)) if r > 1 else float("inf")
        straddles = [th for th in ths if abs(mean - th) <= half]
        metrics[name] = {"estimate": mean, "ci_low": mean - half, "ci_high": mean + half, "half_width": half,
                         "thresholds": ths, "straddles": straddles}
    return metrics


def _month_percentiles(months: np.ndarray, qs: tuple[int, ...]) -> np.ndarray:
    """``np.percentile`` of a month code array (whole numbers 1..NEVER), bit for bit, from its counts: the
    order statistics are read off the cumulative counts instead of partitioning the array."""
    n = months.size
    cum = np.cumsum(np.bincount(months.astype(np.int64), minlength=NEVER + 1))
    q = np.true_divide(np.asarray(qs), 100)
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    top = virtual >= n - 1
    nxt = np.where(top, prev, prev + 1)
    gamma = virtual - np.where(top, -1.0, prev)
    # The value of order statistic k (0-based) is the first month whose cumulative count exceeds k.
    lo = np.searchsorted(cum, prev, side="right").astype(np.float64)
    hi = np.searchsorted(cum, nxt, side="right").astype(np.float64)
    diff = hi - lo
    res = lo + diff * gamma
    np.subtract(hi, diff * (1 - gamma), out=res, where=gamma >= 0.5)
    return res


def _summary(arr: np.ndarray, extra: tuple[int, ...] = (), *, months: bool = False) -> dict[str, float]:
    qs = PERCENTILES + extra
    q = _month_percentiles(arr, qs) if months and arr.size > 1 else _percentiles(arr, qs)
    out = {f"p{p}": float(v) for p, v in zip(qs, q, strict=True)}
    out["mean"] = float(arr.mean())
    return out


def run_simulation(config: dict[str, Any], *, progress: Callable[[float], None] | None = None,
                   threads: int | None = None) -> dict[str, Any]:
    """Run the Monte Carlo described by ``config`` and return the JSON result.

    Deterministic: the same config gives byte-identical ``json.dumps(..., sort_keys=True)`` for any ``threads``
    because every fixed-size chunk draws from its own ``SeedSequence`` child and results are combined in chunk
    order. Each chunk is also one independent RQMC replicate, which gives the confidence intervals.
    """
    plan = _Plan(config)
    n_threads = max(1, int(threads if threads is not None else config.get("execution", {}).get("threads", 1)))
    chunk = plan.chunk
    target = int(config["paths"]["initial"])
    cap = int(config["convergence"]["max_paths"])
    thresholds = config["convergence"]["thresholds"]
    results: list[dict[str, Any]] = []
    extensions = 0
    stop_reason = "converged"
    # Per-path outputs go straight into preallocated arrays (chunk k at its offset): no concatenation at the end.
    dest = {name: np.empty(max(target, cap)) for name in _OUTPUTS}
    do_sens = config["analyses"].get("sensitivity", True)
    do_scen = config["analyses"].get("scenarios", True)
    pool = _pool(n_threads)
    # The pool outlives the run (its threads keep their scratch buffers); every task is awaited below.
    # Each PERT input's quantile table (one betaincinv pass, ~2.5 ms) is built once, spread over the pool,
    # before any chunk needs it (otherwise every thread would build the same tables at its first chunk).
    list(pool.map(lambda spec: ppf(spec, _HALF), plan.specs))
    analyses: dict[str, Any] | None = None
    fan_futs: dict[str, list[Any]] | None = None
    fan_chunks = math.ceil(plan.fan_paths / chunk)
    while True:
        sizes = _chunk_sizes(target, chunk)
        todo = list(range(len(results), len(sizes)))
        offsets = np.concatenate([[0], np.cumsum([r["n"] for r in results] + sizes[len(results):])]).tolist()
        planned = len(sizes)
        # The lambda is consumed within this iteration, so binding sizes/offsets late is safe.
        done = pool.map(lambda k: plan.run_chunk(k, sizes[k], int(offsets[k]), dest), todo)  # noqa: B023
        if analyses is None:
            # The analyses that do not need the main paths (tornado, Sobol, CRN scenarios) queue right
            # behind its chunks; this thread prepares their inputs while the pool runs the chunks.
            analyses = _submit_analyses(plan, config, pool, do_sens, do_scen)
        for res in done:
            results.append(res)
            if progress is not None:
                progress(min(len(results) / planned, 1.0) * 0.85)
            if fan_futs is None and len(results) >= fan_chunks and len(sizes) >= fan_chunks:
                # Every fan-chart chunk is in (later chunks never carry monthly series): the fan percentiles
                # queue behind the remaining chunks and fill the pool's tail.
                fan_futs = _submit_fans(results, pool)
        full = [r["metrics"] for r in results if r["n"] == chunk] or [results[0]["metrics"]]
        conv = _convergence(full, thresholds)
        if not any(m["straddles"] for m in conv.values()):
            stop_reason = "no decision threshold inside its confidence interval"
            break
        if target >= cap:
            stop_reason = "extension cap reached with a threshold still inside its confidence interval"
            break
        target = min(target * 2, cap)
        extensions += 1
    total = sum(r["n"] for r in results)
    pooled = {name: dest[name][:total] for name in _OUTPUTS}
    # What needs the main paths, as independent tasks on the pool: every output's percentiles (each output
    # partitioned once; P1/P99 of NPV for the histogram ride along), the fan charts, rank importance and
    # failure drivers. Every task is a pure function, so the order never changes a result.
    monthly = [r["monthly"] for r in results if "monthly" in r]
    if do_sens:
        importance_fut = pool.submit(_importance, plan, results, pooled["npv"])
    if fan_futs is None:
        fan_futs = _submit_fans(results, pool)
    summary_futs = {name: pool.submit(_summary, pooled[name], (1, 99) if name == "npv" else (),
                                      months=name in ("breakeven_month", "payback_month"))
                    for name in _OUTPUTS}
    sens = None
    if do_sens:
        sens = {**importance_fut.result(), "tornado": analyses["tornado"].result(),
                "sobol": _sobol_finish(plan, analyses["sobol_n"], analyses["sobol"])}
        sens = {k: sens[k] for k in ("output", "rank_importance", "importance_paths", "tornado", "sobol",
                                     "what_drives_failure")}
    if progress is not None:
        progress(0.95)
    scen = _scenario_results(config, {name: f.result() for name, f in analyses["scenarios"].items()}) \
        if do_scen else None
    summaries = {name: f.result() for name, f in summary_futs.items()}
    fan_parts = {key: [f.result() for f in futs] for key, futs in fan_futs.items()}

    reach = pooled["arr_36"] >= plan.model["som_arr"]
    headline = _metrics(pooled, reach, summaries)
    npv_q = summaries["npv"]
    lo, hi = npv_q.pop("p1"), npv_q.pop("p99")
    outputs = summaries
    npv = pooled["npv"]
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(np.clip(npv, lo, hi), bins=40, range=(lo, hi))
    be_counts = np.bincount(pooled["breakeven_month"].astype(np.int64), minlength=NEVER + 1)
    be_cdf = np.cumsum(be_counts[1:HORIZON + 1]) / total
    fans: dict[str, Any] | None = {} if monthly else None
    for key, parts in fan_parts.items():
        q = np.concatenate([p[0] for p in parts], axis=1)
        fans[key] = {f"p{p}": q[i].tolist() for i, p in enumerate(PERCENTILES)}
        fans[key]["mean"] = np.concatenate([p[1] for p in parts]).tolist()
    if fans is not None:
        fans["months"] = list(range(1, HORIZON + 1))
        fans["paths"] = int(sum(m["revenue"].shape[1] for m in monthly))

    if progress is not None:
        progress(1.0)
    return {
        # No run_id here: the same idea and seed must give byte-identical results whatever the run.
        "model_version": MODEL_VERSION,
        "seed": plan.seed,
        "sampler": plan.sampler,
        "scenario": config["scenario"],
        "horizon_months": HORIZON,
        "paths": {"requested": config["paths"]["requested"], "used": total, "chunk_size": chunk,
                  "chunks": len(results), "replicates": len(full), "extensions": extensions,
                  "extended": extensions > 0},
        "metrics": headline,
        "outputs": outputs,
        "replicates": full,
        "convergence": {"confidence": 0.95, "metrics": conv, "stop_reason": stop_reason, "max_paths": cap,
                        "borderline_metrics": sorted(k for k, v in conv.items() if v["straddles"])},
        "fan_charts": fans,
        "npv_histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "breakeven_cdf": {"months": list(range(1, HORIZON + 1)), "p": be_cdf.tolist()},
        "sensitivity": sens,
        "scenarios": scen,
        "units": {"npv": "USD", "revenue_y1": "USD", "arr_36": "USD/year", "funding_need": "USD",
                  "breakeven_month": f"month (1..{HORIZON}; {NEVER} = not within the horizon)",
                  "ltv_cac": "ratio", "cac_payback_months": "months", "roi": "NPV / capital at risk"},
    }


def _submit_fans(results: list[dict[str, Any]], pool: ThreadPoolExecutor) -> dict[str, list[Any]]:
    """Queue the fan-chart percentiles (each series in two halves of the months) on the pool."""
    monthly = [r["monthly"] for r in results if "monthly" in r]
    return {key: [pool.submit(_fan_rows, [m[key][rows] for m in monthly])
                  for rows in (slice(0, HORIZON // 2), slice(HORIZON // 2, HORIZON))]
            for key in (("revenue", "customers", "cash") if monthly else ())}


def _fan_rows(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Fan-chart percentiles and means of some months, over the fan paths (one (months, n) part per chunk)."""
    mat = np.concatenate(parts, axis=1)
    return np.ascontiguousarray(_sorted_percentiles(np.sort(mat, axis=1), PERCENTILES).T), mat.mean(axis=1)


def _row_medians(u: np.ndarray, bins: int = 4096) -> np.ndarray:
    """``np.median(u.astype(np.float64), axis=1)``, bit for bit, for rows of values in [0, 1] (the float32 input
    uniforms) without partitioning them: each row is bucketed by ⌊u·bins⌋ (monotone, so buckets keep the values'
    order), the buckets holding the middle order statistics are found from the counts, and only their values
    are sorted. ~4x cheaper than np.median on (15, 65,536)."""
    rows, n = u.shape
    idx = np.multiply(u, bins, dtype=np.float32).astype(np.int32)
    np.minimum(idx, bins - 1, out=idx)
    k = n // 2
    ranks = (k - 1, k) if n % 2 == 0 else (k,)
    out = np.empty(rows)
    for r in range(rows):
        start = np.cumsum(np.bincount(idx[r], minlength=bins))      # values in buckets 0..b
        b = np.searchsorted(start, ranks, side="right")             # bucket of each middle rank
        lo, hi = int(b[0]), int(b[-1])
        before = int(start[lo - 1]) if lo else 0
        row = idx[r]
        sel = row == lo if lo == hi else (row >= lo) & (row <= hi)
        vals = np.sort(u[r, sel])[[rank - before for rank in ranks]].astype(np.float64)
        out[r] = vals[0] if n % 2 else (vals[0] + vals[1]) / 2.0
    return out


def _importance(plan: _Plan, results: list[dict[str, Any]], pooled_npv: np.ndarray) -> dict[str, Any]:
    """Rank importance of every input for NPV, and what drives failure (NPV <= 0)."""
    # Inputs are built from uniforms, so an input's rank is its uniform's rank; only the output needs sorting
    # (one argsort instead of one per input). The chunks carrying ``u`` (d, n) are the leading ones.
    u32 = np.concatenate([r["u"] for r in results if "u" in r], axis=1)
    n = u32.shape[1]
    npv = pooled_npv[:n]
    ranks = np.empty(n)
    ranks[np.argsort(npv, kind="stable")] = (np.arange(n) + 0.5) / n
    rc = ranks - ranks.mean()
    rc_ss = (rc * rc).sum()
    # Input by input on cache-sized float64 rows (no 8 MB temporaries): Pearson of uniform vs output rank.
    rho, sd = np.empty(plan.d), np.empty(plan.d)
    uc, prod = np.empty(n), np.empty(n)
    for i in range(plan.d):
        np.copyto(uc, u32[i])
        uc -= uc.mean()
        cross = np.multiply(uc, rc, out=prod).sum()
        ss = np.multiply(uc, uc, out=prod).sum()
        rho[i] = cross / np.sqrt(ss * rc_ss)
        sd[i] = np.sqrt(ss / n)                  # = np.std of the row
    importance = sorted(({"input": plan.names[i], "spearman": float(rho[i])} for i in range(plan.d)),
                        key=lambda e: (-abs(e["spearman"]), e["input"]))

    fail = npv <= 0
    drivers = []
    p_fail = float(fail.mean())
    if 0 < fail.sum() < n:
        med_fail = _row_medians(u32[:, fail])
        med_all = _row_medians(u32)
        for i, name in enumerate(plan.names):
            sig = float((med_fail[i] - med_all[i]) / sd[i]) if sd[i] > 0 else 0.0
            drivers.append({"input": name, "median_percentile": float(med_fail[i] * 100), "significance": sig,
                            "direction": "high" if sig > 0 else "low"})
        drivers.sort(key=lambda e: (-abs(e["significance"]), e["input"]))
    for d in drivers:
        d["significant"] = abs(d["significance"]) >= 0.5
        d["statement"] = f"{d['input']} at P{d['median_percentile']:.0f} in failing paths"
    return {"output": "npv", "rank_importance": importance, "importance_paths": n,
            "what_drives_failure": {"definition": "NPV <= 0", "p_failure": p_fail, "drivers": drivers}}


def _tornado(plan: _Plan) -> list[dict[str, Any]]:
    # One-at-a-time at P10/P30/P70/P90 around the all-median case with shocks at zero: 4d+1 paths in one call.
    levels = (0.1, 0.3, 0.7, 0.9)
    rows = 1 + len(levels) * plan.d
    u = np.full((rows, plan.d), 0.5)
    for i in range(plan.d):
        for j, lv in enumerate(levels):
            u[1 + i * len(levels) + j, i] = lv
    x = {s["name"]: ppf(s, u[:, i]) for i, s in enumerate(plan.specs)}
    out = simulate(x, np.zeros((HORIZON, rows)), plan.model, plan.scenario, npv_only=True)["npv"]
    base = float(out[0])
    bars = []
    for i, s in enumerate(plan.specs):
        seq = out[1 + i * len(levels): 1 + (i + 1) * len(levels)]
        pts = [seq[0], seq[1], base, seq[2], seq[3]]
        diffs = np.diff(pts)
        tol = 1e-9 * max(1.0, max(abs(v) for v in pts))
        monotone = bool(np.all(diffs >= -tol) or np.all(diffs <= tol))
        bars.append({"input": s["name"], "low_input": float(x[s["name"]][1 + i * len(levels)]),
                     "high_input": float(x[s["name"]][1 + i * len(levels) + 3]),
                     "npv_low": float(seq[0]), "npv_high": float(seq[3]), "swing": float(abs(seq[3] - seq[0])),
                     "non_monotone": not monotone})
    bars.sort(key=lambda b: (-b["swing"], b["input"]))
    return [{"base_npv": base, **b} for b in bars]


def _spans(n: int, parts: int = 2) -> list[tuple[int, int]]:
    """``n`` paths as a multiple of ``parts`` equal spans of at most BLOCK paths (so two threads get equal
    work; per-path results do not depend on the span)."""
    k = parts * max(1, math.ceil(n / (parts * BLOCK)))
    size = math.ceil(n / k)
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _npv_submit(x: dict[str, np.ndarray], z: np.ndarray, plan: _Plan, pool: ThreadPoolExecutor) -> list[Any]:
    """NPV of every path, the kernel's spans queued on the pool (futures in path order)."""
    return [pool.submit(lambda lo, hi: simulate({k: v[lo:hi] for k, v in x.items()}, z[:, lo:hi], plan.model,
                                                plan.scenario, npv_only=True)["npv"], lo, hi)
            for lo, hi in _spans(z.shape[1])]


def _sobol_design(plan: _Plan, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Inputs and shocks of the Saltelli design: A, B, the d matrices AB_i (column i from B), then A's inputs
    with B's shocks (the grouped monthly shocks)."""
    d = plan.d
    ss = np.random.SeedSequence(plan.seed, spawn_key=(2**31 - 1,))
    s_u, s_a, s_b = ss.spawn(3)
    base = sobol_points(n, 2 * d, np.random.default_rng(s_u))
    za = np.random.default_rng(s_a).standard_normal((HORIZON, n))
    zb = np.random.default_rng(s_b).standard_normal((HORIZON, n))
    # The inverse CDFs run on A and B only; AB_i takes its columns from their results.
    xa = {s["name"]: ppf(s, base[:, i]) for i, s in enumerate(plan.specs)}
    xb = {s["name"]: ppf(s, base[:, d + i]) for i, s in enumerate(plan.specs)}
    x = {name: np.concatenate([xa[name], xb[name]] + [xb[name] if j == i else xa[name] for j in range(d)]
                              + [xa[name]]) for i, name in enumerate(plan.names)}
    z = np.concatenate([za, zb] + [za] * d + [zb], axis=1)
    return x, z


def _sobol_finish(plan: _Plan, n: int, parts: list[Any]) -> dict[str, Any]:
    d = plan.d
    f = np.concatenate([p.result() for p in parts]).reshape(d + 3, n)
    fa, fb = f[0], f[1]
    var = float(np.var(np.concatenate([fa, fb])))
    names = [*plan.names, SHOCK_GROUP]
    indices = []
    for i, name in enumerate(names):
        fab = f[2 + i]
        t1 = fb * (fab - fa)
        tt = 0.5 * (fa - fab) ** 2
        s1, st = float(t1.mean() / var), float(tt.mean() / var)
        h1 = float(1.96 * t1.std(ddof=1) / math.sqrt(n) / var)
        ht = float(1.96 * tt.std(ddof=1) / math.sqrt(n) / var)
        indices.append({"input": name, "s1": s1, "s1_ci": [s1 - h1, s1 + h1], "st": st, "st_ci": [st - ht, st + ht]})
    indices.sort(key=lambda e: (-e["st"], e["input"]))
    return {"output": "npv", "n": n, "evaluations": n * (d + 3), "estimators": "Saltelli 2010 S1, Jansen ST",
            "variance": var, "indices": indices}


class _Inline:
    """A finished future, for running the kernel spans on this thread when there is no pool."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


def _sobol_indices(plan: _Plan, n: int, pool: ThreadPoolExecutor | None = None) -> dict[str, Any]:
    """Saltelli (2010) first-order and Jansen total-order indices of NPV, the monthly shocks as one group.

    Computed on independent inputs (Sobol indices are not defined under correlation); CIs are normal-theory
    intervals of the per-row estimator terms, which avoids scipy's 35-second bootstrap.
    """
    x, z = _sobol_design(plan, n)
    if pool is None:
        return _sobol_finish(plan, n, [_Inline(simulate(x, z, plan.model, plan.scenario, npv_only=True)["npv"])])
    return _sobol_finish(plan, n, _npv_submit(x, z, plan, pool))


def _submit_analyses(plan: _Plan, config: dict[str, Any], pool: ThreadPoolExecutor, do_sens: bool,
                     do_scen: bool) -> dict[str, Any]:
    """Queue the tornado, the Sobol design's kernel spans and the CRN scenarios on the pool."""
    out: dict[str, Any] = {}
    if do_sens:
        out["tornado"] = pool.submit(_tornado, plan)
        out["sobol_n"] = int(config["analyses"].get("sobol_n", SOBOL_N))
        x, z = _sobol_design(plan, out["sobol_n"])
        out["sobol"] = _npv_submit(x, z, plan, pool)
    if do_scen:
        draws = _scenario_draws(plan, config)
        out["scenarios"] = {name: pool.submit(_scenario_metrics, plan, config["scenarios"][name], draws)
                            for name in config["scenarios"]}
    return out


def _scenario_draws(plan: _Plan, config: dict[str, Any]) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    # Common random numbers: every scenario sees the same draws, so differences are the scenario, not noise.
    n = int(config["analyses"].get("scenario_paths", SCENARIO_PATHS))
    return [plan.draws(k, s)[1:] for k, s in enumerate(_chunk_sizes(n, plan.chunk))]


def _scenario_metrics(plan: _Plan, scenario: dict[str, Any],
                      draws: list[tuple[dict[str, np.ndarray], np.ndarray]]) -> dict[str, float]:
    sc = _scenario_arrays(scenario)
    outs = [simulate(x, z, plan.model, sc) for x, z in draws]
    pooled = {k: np.concatenate([o[k] for o in outs]) for k in _OUTPUTS}
    reach = np.concatenate([o["reach_som"] for o in outs])
    return _metrics(pooled, reach)


def _scenario_results(config: dict[str, Any], found: dict[str, dict[str, float]]) -> dict[str, Any]:
    n = int(config["analyses"].get("scenario_paths", SCENARIO_PATHS))
    base = found["base"]
    out = {}
    for name in config["scenarios"]:
        m = found[name]
        out[name] = {"description": config["scenarios"][name]["description"], "metrics": m,
                     "delta_vs_base": {k: m[k] - base[k] for k in ("p_npv_positive", "npv_p50", "arr_36_p50",
                                                                   "funding_need_p50", "p_reach_som")}}
    return {"paths": n, "common_random_numbers": True, "results": out}
