"""Decision benchmark (`python -m benchmarks.bench_decision`): CPU of a full decision-grade analysis now against the
code before the evidence-driven decision (commit BASELINE), measured in the same run, on the same ideas and seed.

"Full" is what the pipeline's middle stages do: ingestion, personas, competitors, the simulation with every
analysis (sensitivity, scenarios, fan charts) and the decision. The baseline is extracted from git into a
temporary directory and run in a child process whose import path puts it first; both sides see the same
requests (the new request facts removed for the baseline, which did not know them). The current side also runs
each idea twice to check the result is byte-identical for the same request and seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The last commit before the evidence-driven decision ("today's full run" when the work began).
BASELINE = "b3182b8"
IDEAS = ("examples/idea.json", "examples/eval/saas-month_end_close.json", "examples/eval/saas-hr_onboarding_cac.json",
         "examples/eval/saas-crowded_crm.json", "examples/eval/finance-defi_tax_reports.json",
         "examples/eval/marketplace-regional_freight.json")
NEW_FACTS = ("team", "technology", "financials", "retention")
SEED = 42
BUDGET = 1.5

_BASELINE_RUN = """
import json, statistics, sys, time
from smvm.decision.services import analyse_decision
from smvm.intake.services import parse_request, validate_idea
from smvm.market.services import ingest_market_data, synthesize_competitors, synthesize_personas
from smvm.simulation.services import build_simulation_config, run_simulation

def once(body):
    req = parse_request(json.loads(json.dumps(body))); req["run_id"] = "RUN-BENCH"
    validation = validate_idea(req)
    md = ingest_market_data(req)
    p = synthesize_personas(req, md, count=5, seed=SEED)
    c = synthesize_competitors(req, md, count=10, seed=SEED)
    cfg = build_simulation_config(req, md, p, c, iterations=1000, seed=SEED)
    sim = run_simulation(cfg, threads=2)
    return analyse_decision(req, validation, md, p, c, sim, cfg)["recommendation"]

out = {}
for name, body in json.loads(sys.stdin.read()).items():
    once(body)
    cpus = []
    for _ in range(REPEAT):
        cpu = time.process_time(); verdict = once(body); cpus.append(time.process_time() - cpu)
    out[name] = {"cpu_s": statistics.median(cpus), "verdict": verdict}
print(json.dumps(out))
"""


def _bodies() -> dict[str, dict[str, Any]]:
    bodies = {}
    for path in IDEAS:
        doc = json.loads((ROOT / path).read_text(encoding="utf-8"))
        bodies[Path(path).stem] = doc.get("request", doc)
    return bodies


def _baseline(bodies: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any] | None:
    old = {name: {k: v for k, v in body.items() if k not in NEW_FACTS} for name, body in bodies.items()}
    with tempfile.TemporaryDirectory(prefix="smvm-baseline-") as tmp:
        try:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "smvm"], capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"baseline {BASELINE} unavailable ({exc}); the comparison needs a git checkout with that commit")
            return None
        env = {**os.environ, "PYTHONPATH": tmp}
        code = _BASELINE_RUN.replace("SEED", str(SEED)).replace("REPEAT", str(repeat))
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps(old), capture_output=True, text=True,
                              env=env, cwd=tmp, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def _current(bodies: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    from smvm.intake.services import parse_request
    from smvm.pipeline.decide import decide

    out = {}
    for name, body in bodies.items():
        request = parse_request(json.loads(json.dumps(body)))
        request["run_id"] = "RUN-BENCH"
        first = decide(request, seed=SEED, threads=2)
        cpus = []
        for _ in range(repeat):
            cpu = time.process_time()
            again = decide(request, seed=SEED, threads=2)
            cpus.append(time.process_time() - cpu)
        same = all(_digest(first[k]) == _digest(again[k]) for k in ("simulation_result", "decision"))
        out[name] = {"cpu_s": statistics.median(cpus), "verdict": first["decision"]["recommendation"],
                     "byte_identical": same}
    return out


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bodies = _bodies()
    print(f"Full decision-grade analysis, CPU seconds per run (median of {args.repeat}, 2 threads, seed {SEED}; "
          f"load average {os.getloadavg()[0]:.2f})")
    old = _baseline(bodies, args.repeat)
    new = _current(bodies, args.repeat)
    print(f"{'idea':<32}{'before (' + BASELINE + ')':>18}{'now':>8}{'ratio':>8}  verdicts    byte-identical")
    ratios = []
    for name in bodies:
        before = old[name]["cpu_s"] if old else float("nan")
        ratio = new[name]["cpu_s"] / before if old else float("nan")
        ratios.append(ratio)
        verdicts = f"{old[name]['verdict'] if old else '?':>5} -> {new[name]['verdict']:<5}"
        print(f"{name:<32}{before:>18.3f}{new[name]['cpu_s']:>8.3f}{ratio:>8.2f}  {verdicts}  "
              f"{'yes' if new[name]['byte_identical'] else 'NO'}")
    total_old = sum(o["cpu_s"] for o in old.values()) if old else float("nan")
    total_new = sum(n["cpu_s"] for n in new.values())
    ratio = total_new / total_old if old else float("nan")
    print(f"total: before {total_old:.3f} s, now {total_new:.3f} s, ratio {ratio:.2f} (budget {BUDGET:.1f}x); "
          f"worst idea {max(ratios):.2f}x")
    identical = all(n["byte_identical"] for n in new.values())
    return 0 if identical and (not old or ratio <= BUDGET) else 1


if __name__ == "__main__":
    sys.exit(main())
