"""Running a simulation: the per-run plan (draws, copula, chunks), the process's thread pool, and the run itself."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from smvm.contracts import SimulationConfig, SimulationResult
from smvm.simulation.config import FAN_PATHS, IMPORTANCE_PATHS, MODEL_VERSION, SOBOL_N
from smvm.simulation.distributions import _special, lognormal_from_normal, ppf
from smvm.simulation.engine import (
    HORIZON,
    NEVER,
    OBSERVABLES,
    OUTPUTS,
    chunk_sizes,
    prepare_model,
    simulate,
    thread_scratch,
)
from smvm.simulation.scenarios import scenario_arrays, scenario_draws, scenario_metrics, scenario_results
from smvm.simulation.sensitivity import importance, npv_submit, sobol_design, sobol_finish, tornado
from smvm.simulation.sobol import sobol_points
from smvm.simulation.statistics import (
    PERCENTILES,
    convergence,
    decision_metrics,
    percentiles,
    sorted_percentiles,
    summary,
)
from smvm.simulation.worlds import analyse_worlds

_HALF = np.array([0.5])
#: Outputs whose whole distribution a run keeps as percentiles 1..99: the cumulative probability curves of the
#: report, and the prior predictive of what the client can observe at T0+30 (scored against observations later).
QUANTILE_LEVELS = tuple(range(1, 100))
QUANTILED = ("npv", "arr_36", "funding_need", *("obs_" + name for name in OBSERVABLES))
#: Outputs summarised by P5/P10/P50/P90/P95 and the mean in the result (the others serve the verdict, the P&L and
#: the percentile curves).
SUMMARISED = ("npv", "revenue_y1", "revenue_y2", "revenue_y3", "arr_36", "customers_36", "funding_need", "cash_36",
              "breakeven_month", "payback_month", "roi", "ltv_cac", "cac_payback_months", "acceptance",
              "market_share", "ceiling_accounts", "innovation_rate", "unit_contribution", "steady_profit",
              "breakeven_arr")
#: Paths the yearly P&L and the percentile curves are computed from.
PROFILE_PATHS = 65_536
_PNL_QUANTILES = (10, 50, 90)


def yearly_pnl(pooled: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per year, P10 / P50 / P90 of revenue, gross profit, acquisition spend, fixed costs, operating cash flow and
    the cash balance at year end, each computed per path (so a path's lines add up; their percentiles need not)."""
    cash_end = [pooled["cash_y1"], pooled["cash_y2"], pooled["cash_36"]]
    start = -pooled["upfront"]
    rows = []
    for year in (1, 2, 3):
        fixed = 12.0 * pooled["opex_monthly"]
        flow = cash_end[year - 1] - (start if year == 1 else cash_end[year - 2])
        acquisition = pooled[f"acquisition_y{year}"]
        lines = {"revenue": pooled[f"revenue_y{year}"], "gross_profit": flow + acquisition + fixed,
                 "acquisition": acquisition, "fixed_costs": fixed, "operating_cash_flow": flow,
                 "cash_end": cash_end[year - 1]}
        rows.append({"year": year, **{name: dict(zip((f"p{q}" for q in _PNL_QUANTILES),
                                                     percentiles(values, _PNL_QUANTILES).tolist(), strict=True))
                                      for name, values in lines.items()}})
    return rows


class Plan:
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
        self.scenario = scenario_arrays(config["scenarios"][config["scenario"]])
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
        for name in OUTPUTS:
            view = dest[name][offset:offset + n]
            view[...] = out[name]
            outputs[name] = view
        res: dict[str, Any] = {"n": n}
        if "monthly" in out:
            res["monthly"] = out["monthly"]
        if keep_u:
            res["u"] = u.T.astype(np.float32)  # (d, n): one contiguous row per input
        res["metrics"] = decision_metrics(outputs, out["reach_som"])
        return res


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}

_POOLS_LOCK = threading.Lock()

_POOL_PREFIX = "smvm-simulation"


def pool_for(n_threads: int) -> ThreadPoolExecutor:
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


def run_simulation(config: SimulationConfig, *, progress: Callable[[float], None] | None = None,
                   threads: int | None = None) -> SimulationResult:
    """Run the Monte Carlo described by ``config`` and return the JSON result.

    Deterministic: the same config gives byte-identical ``json.dumps(..., sort_keys=True)`` for any ``threads``
    because every fixed-size chunk draws from its own ``SeedSequence`` child and results are combined in chunk
    order. Each chunk is also one independent RQMC replicate, which gives the confidence intervals. The leading
    paths are then classified as plausible worlds (:mod:`smvm.simulation.worlds`): ``verdict`` in the result.
    """
    plan = Plan(config)
    n_threads = max(1, int(threads if threads is not None else config.get("execution", {}).get("threads", 1)))
    chunk = plan.chunk
    target = int(config["paths"]["initial"])
    results: list[dict[str, Any]] = []
    # Per-path outputs go straight into preallocated arrays (chunk k at its offset): no concatenation at the end.
    dest = {name: np.empty(target) for name in OUTPUTS}
    do_sens = config["analyses"].get("sensitivity", True)
    do_scen = config["analyses"].get("scenarios", True)
    pool = pool_for(n_threads)
    # The pool outlives the run (its threads keep their scratch buffers); every task is awaited below.
    # Each PERT input's quantile table (one betaincinv pass, ~2.5 ms) is built once, spread over the pool,
    # before any chunk needs it (otherwise every thread would build the same tables at its first chunk).
    list(pool.map(lambda spec: ppf(spec, _HALF), plan.specs))
    fan_futs: dict[str, list[Any]] | None = None
    fan_chunks = math.ceil(plan.fan_paths / chunk)
    sizes = chunk_sizes(target, chunk)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    done = pool.map(lambda k: plan.run_chunk(k, sizes[k], int(offsets[k]), dest), range(len(sizes)))
    # The analyses that do not need the main paths (tornado, Sobol, CRN scenarios) queue right behind its
    # chunks; this thread prepares their inputs while the pool runs the chunks.
    analyses = submit_analyses(plan, config, pool, do_sens, do_scen)
    for res in done:
        results.append(res)
        if progress is not None:
            progress(len(results) / len(sizes) * 0.75)
        if fan_futs is None and len(results) >= fan_chunks and len(sizes) >= fan_chunks:
            # Every fan-chart chunk is in (later chunks never carry monthly series): the fan percentiles
            # queue behind the remaining chunks and fill the pool's tail.
            fan_futs = submit_fans(results, pool)
    full = [r["metrics"] for r in results if r["n"] == chunk] or [results[0]["metrics"]]
    conv = convergence(full, config["convergence"]["thresholds"])
    total = sum(r["n"] for r in results)
    pooled = {name: dest[name][:total] for name in OUTPUTS}
    # What needs the main paths, as independent tasks on the pool: every output's percentiles (each output
    # partitioned once; P1/P99 of NPV for the histogram ride along), the fan charts, rank importance and
    # failure drivers. Every task is a pure function, so the order never changes a result.
    monthly = [r["monthly"] for r in results if "monthly" in r]
    if do_sens:
        importance_fut = pool.submit(importance, plan, results, pooled["npv"])
    if fan_futs is None:
        fan_futs = submit_fans(results, pool)
    summary_futs = {name: pool.submit(summary, pooled[name], (1, 99) if name == "npv" else (),
                                      months=name in ("breakeven_month", "payback_month"))
                    for name in SUMMARISED}
    # The yearly P&L and the percentile curves read the leading paths only: a 1M-path run would otherwise sort
    # two dozen more million-value arrays for figures that 2^15 paths already give to a fraction of a percent.
    profile = {name: pooled[name][:PROFILE_PATHS] for name in OUTPUTS}
    pnl_fut = pool.submit(yearly_pnl, profile)
    quantile_futs = {name: pool.submit(percentiles, profile[name], QUANTILE_LEVELS) for name in QUANTILED}
    sens = None
    if do_sens:
        sens = {**importance_fut.result(), "tornado": analyses["tornado"].result(),
                "sobol": sobol_finish(plan, analyses["sobol_n"], analyses["sobol"])}
        sens = {k: sens[k] for k in ("output", "rank_importance", "importance_paths", "tornado", "sobol",
                                     "what_drives_failure")}
    if progress is not None:
        progress(0.8)
    verdict = analyse_worlds(plan, config, pooled, pool)
    if progress is not None:
        progress(0.95)
    scen = scenario_results(config, {name: f.result() for name, f in analyses["scenarios"].items()}) \
        if do_scen else None
    summaries = {name: f.result() for name, f in summary_futs.items()}
    fan_parts = {key: [f.result() for f in futs] for key, futs in fan_futs.items()}

    reach = pooled["arr_36"] >= plan.model["som_arr"]
    headline = decision_metrics(pooled, reach, summaries)
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
                  "chunks": len(results), "replicates": len(full)},
        "metrics": headline,
        "verdict": verdict,
        "outputs": outputs,
        "replicates": full,
        "convergence": {"confidence": 0.95, "metrics": conv},
        "fan_charts": fans,
        "pnl": pnl_fut.result(),
        "quantiles": {"levels": list(QUANTILE_LEVELS), **{name: f.result().tolist() for name, f in quantile_futs.items()}},
        "npv_histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
        "breakeven_cdf": {"months": list(range(1, HORIZON + 1)), "p": be_cdf.tolist()},
        "sensitivity": sens,
        "scenarios": scen,
        "units": {"npv": "USD", "revenue_y1": "USD", "arr_36": "USD/year", "funding_need": "USD",
                  "breakeven_month": f"month (1..{HORIZON}; {NEVER} = not within the horizon)",
                  "ltv_cac": "ratio", "cac_payback_months": "months", "roi": "NPV / capital at risk"},
    }


def submit_fans(results: list[dict[str, Any]], pool: ThreadPoolExecutor) -> dict[str, list[Any]]:
    """Queue the fan-chart percentiles (each series in two halves of the months) on the pool."""
    monthly = [r["monthly"] for r in results if "monthly" in r]
    return {key: [pool.submit(fan_rows, [m[key][rows] for m in monthly])
                  for rows in (slice(0, HORIZON // 2), slice(HORIZON // 2, HORIZON))]
            for key in (("revenue", "customers", "cash") if monthly else ())}


def fan_rows(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Fan-chart percentiles and means of some months, over the fan paths (one (months, n) part per chunk)."""
    mat = np.concatenate(parts, axis=1)
    return np.ascontiguousarray(sorted_percentiles(np.sort(mat, axis=1), PERCENTILES).T), mat.mean(axis=1)


def submit_analyses(plan: Plan, config: dict[str, Any], pool: ThreadPoolExecutor, do_sens: bool,
                     do_scen: bool) -> dict[str, Any]:
    """Queue the tornado, the Sobol design's kernel spans and the CRN scenarios on the pool."""
    out: dict[str, Any] = {}
    if do_sens:
        out["tornado"] = pool.submit(tornado, plan)
        out["sobol_n"] = int(config["analyses"].get("sobol_n", SOBOL_N))
        x, z = sobol_design(plan, out["sobol_n"])
        out["sobol"] = npv_submit(x, z, plan, pool)
    if do_scen:
        draws = scenario_draws(plan, config)
        out["scenarios"] = {name: pool.submit(scenario_metrics, plan, config["scenarios"][name], draws)
                            for name in config["scenarios"]}
    return out
