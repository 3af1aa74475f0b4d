"""Simulation benchmark (`python -m benchmarks.bench_simulation`): 1M paths end to end, RNG floor, memory, default run, Sobol."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from smvm.intake.validation import parse_request
from smvm.market.competitors import synthesize_competitors
from smvm.market.ingestion import ingest_market_data
from smvm.market.personas import synthesize_personas
from smvm.simulation import config as sim_config
from smvm.simulation import execution as sim
from smvm.simulation import sensitivity
from smvm.simulation.distributions import _pert_table

IDEA = "examples/eval/saas-hr_onboarding_cac.json"  # a PIVOT: the run simulates its suggested changes too
THREADS = 2


def _config(iterations: int, **kwargs: Any) -> dict[str, Any]:
    with open(IDEA, encoding="utf-8") as fh:
        body = json.load(fh)["request"]
    req = parse_request(body)
    req["run_id"] = "RUN-BENCH"
    md = ingest_market_data(req)
    personas = synthesize_personas(req, md, count=5, seed=42)
    comps = synthesize_competitors(req, md, count=10, seed=42)
    return sim_config.build_simulation_config(req, md, personas, comps, iterations=iterations, seed=42, **kwargs)


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__,
                            "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        import scipy

        info["scipy"] = scipy.__version__
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache",
                               "Hypervisor vendor"):
                info[key.strip()] = value.strip()
    except (OSError, ImportError):
        pass
    return info


def _rng_floor(cfg: dict[str, Any], n: int) -> tuple[float, float]:
    """Wall and CPU time to merely draw the same variates as the run, the same way: per fixed-size chunk, from the
    chunk's own SeedSequence child, the scrambled Sobol (or PCG64) uniforms for the inputs plus 36 PCG64 normals
    a path, into the same per-thread buffers, on the same thread pool (the run's own ``_Plan.variates``)."""
    plan = sim.Plan(cfg)
    chunk = plan.chunk

    def draw(k: int) -> None:
        plan.variates(k, min(chunk, n - k * chunk), scratch=True)

    chunks = range((n + chunk - 1) // chunk)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(draw, chunks))
        start, cpu = time.perf_counter(), time.process_time()
        list(pool.map(draw, chunks))
    return time.perf_counter() - start, time.process_time() - cpu


def _child_1m(sampler: str) -> None:
    cfg = _config(sim_config.MAX_ITERATIONS, sampler=sampler, analyses={"scenarios": False})
    small = _config(1000, sampler=sampler)
    sim.run_simulation(small, threads=THREADS)  # warm imports and caches, as a worker would be
    start, cpu = time.perf_counter(), time.process_time()
    res = sim.run_simulation(cfg, threads=THREADS)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    floor, floor_cpu = _rng_floor(cfg, res["paths"]["used"])
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "paths": res["paths"]["used"], "rng_floor_s": floor,
                      "rng_floor_cpu_s": floor_cpu, "load": os.getloadavg()[0],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def _timed(fn: Any, repeat: int) -> dict[str, float]:
    fn()
    times, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return {"median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
            "cpu_ms": statistics.median(cpus) * 1000}


def _cold(fn: Any) -> Any:
    """``fn`` with the PERT quantile tables dropped first: a pipeline run meets a new idea's priors, so it
    builds its tables (one betaincinv pass per PERT input) instead of finding them cached."""

    def run() -> Any:
        _pert_table.cache_clear()
        return fn()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child-1m", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sampler", default="sobol", choices=("sobol", "mc"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.child_1m:
        _child_1m(args.sampler)
        return

    print("machine:", json.dumps(_machine()), "load average:", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    default = _config(1000)
    core = _config(1000, analyses={"sensitivity": False, "scenarios": False})
    full = _timed(lambda: sim.run_simulation(default, threads=THREADS), args.repeat)
    main_only = _timed(lambda: sim.run_simulation(core, threads=THREADS), args.repeat)
    full_cold = _timed(_cold(lambda: sim.run_simulation(default, threads=THREADS)), args.repeat)
    main_cold = _timed(_cold(lambda: sim.run_simulation(core, threads=THREADS)), args.repeat)
    plan = sim.Plan(default)
    sobol = _timed(lambda: sensitivity.sobol_indices(plan, sim_config.SOBOL_N), args.repeat)
    print(f"default decision-grade run ({default['paths']['initial']:,} RQMC paths, {THREADS} threads): "
          f"{main_only['median_ms']:.0f} ms median (min {main_only['min_ms']:.0f}, CPU {main_only['cpu_ms']:.0f}) "
          f"for the simulation and statistics; {full['median_ms']:.0f} ms median (min {full['min_ms']:.0f}, CPU "
          f"{full['cpu_ms']:.0f}) with tornado, Sobol and 8 scenarios; both include the verdict's worlds")
    print(f"  same with the PERT tables built by the run (a new idea): {main_cold['median_ms']:.0f} ms median "
          f"(min {main_cold['min_ms']:.0f}); {full_cold['median_ms']:.0f} ms median (min {full_cold['min_ms']:.0f}) "
          f"with tornado, Sobol and scenarios; 1-min load average {os.getloadavg()[0]:.2f}")
    print(f"Sobol S1/ST with CIs, {len(default['inputs']) + 1} inputs (15, the landscape draw and the grouped "
          f"monthly shocks), n={sim_config.SOBOL_N} ({sim_config.SOBOL_N * (len(default['inputs']) + 3):,} model "
          "evaluations): "
          f"{sobol['median_ms']:.0f} ms median")

    child = subprocess.run([sys.executable, "-m", "benchmarks.bench_simulation", "--child-1m", "--sampler",
                            args.sampler], capture_output=True, text=True, check=True)
    one_m = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"1M paths x 36 months end to end ({one_m['paths']:,} paths, {args.sampler}, sampling + copula + "
          f"simulation + percentiles + fan + rank importance + failure drivers + tornado + Sobol, {THREADS} "
          f"threads, fresh process): {one_m['wall_s']:.2f} s")
    print(f"  CPU time of that run (both threads): {one_m['cpu_s']:.2f} s; 1-min load average {one_m['load']:.2f}")
    print(f"RNG floor (drawing the same variates only): {one_m['rng_floor_s']:.3f} s wall, "
          f"{one_m['rng_floor_cpu_s']:.3f} s CPU; ratio {one_m['wall_s'] / one_m['rng_floor_s']:.1f}x wall, "
          f"{one_m['cpu_s'] / one_m['rng_floor_cpu_s']:.1f}x CPU")
    print(f"peak RSS of the 1M-path process: {one_m['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
