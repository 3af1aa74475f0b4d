"""Decision benchmark (`python -m benchmarks.bench_decision`): CPU of a full decision-grade analysis now against the
code before the evidence-driven decision (commit BASELINE), measured in the same run, on the same ideas and seed.

"Full" is what the pipeline's middle stages do: ingestion, personas, competitors, the simulation with every
analysis (sensitivity, scenarios, fan charts) and the decision. The baseline is extracted from git into a
temporary directory and run in a child process whose import path puts it first; both sides see the same
requests (the new request facts removed for the baseline, which did not know them). The current side also runs
each idea twice to check the result is byte-identical for the same request and seed. The two sides' runs alternate,
so a drift in the host's speed hits both alike.
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

#: The baseline side: one request per stdin line, one {"cpu_s", "verdict"} line back, so its runs interleave with the
#: current side's and both see the same machine (this host's speed drifts by tens of percent within minutes).
_BASELINE_SERVER = """
import json, sys, time
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

for line in sys.stdin:
    body = json.loads(line)
    cpu = time.process_time(); verdict = once(body); spent = time.process_time() - cpu
    print(json.dumps({"cpu_s": spent, "verdict": verdict}), flush=True)
"""


def _bodies() -> dict[str, dict[str, Any]]:
    bodies = {}
    for path in IDEAS:
        doc = json.loads((ROOT / path).read_text(encoding="utf-8"))
        bodies[Path(path).stem] = doc.get("request", doc)
    return bodies


class _Baseline:
    """The code at BASELINE, extracted from git, in a child process whose import path puts it first."""

    def __init__(self, tmp: str) -> None:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE, "smvm"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        self.process = subprocess.Popen([sys.executable, "-c", _BASELINE_SERVER.replace("SEED", str(SEED))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, "PYTHONPATH": tmp}, cwd=tmp)

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        """One run of ``body`` without the request facts the baseline did not know."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({k: v for k, v in body.items() if k not in NEW_FACTS}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _measure(bodies: dict[str, dict[str, Any]], repeat: int, baseline: _Baseline | None) -> dict[str, Any]:
    """Per idea, the baseline's and the current code's CPU per run, their runs alternating (after one untimed run of
    each, which also gives the verdicts and the byte-identity check)."""
    from smvm.intake.validation import parse_request
    from smvm.pipeline.decide import decide

    out = {}
    for name, body in bodies.items():
        request = parse_request(json.loads(json.dumps(body)))
        request["run_id"] = "RUN-BENCH"
        old_verdict = baseline.run(body)["verdict"] if baseline else None
        first = decide(request, seed=SEED, threads=2)
        old_cpus, new_cpus = [], []
        for _ in range(repeat):
            if baseline:
                old_cpus.append(baseline.run(body)["cpu_s"])
            cpu = time.process_time()
            again = decide(request, seed=SEED, threads=2)
            new_cpus.append(time.process_time() - cpu)
        same = all(_digest(first[k]) == _digest(again[k]) for k in ("simulation_result", "decision"))
        out[name] = {"before": statistics.median(old_cpus) if old_cpus else float("nan"), "old_verdict": old_verdict,
                     "now": statistics.median(new_cpus), "verdict": first["decision"]["recommendation"],
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
    with tempfile.TemporaryDirectory(prefix="smvm-baseline-") as tmp:
        try:
            baseline: _Baseline | None = _Baseline(tmp)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"baseline {BASELINE} unavailable ({exc}); the comparison needs a git checkout with that commit")
            baseline = None
        try:
            results = _measure(bodies, args.repeat, baseline)
        finally:
            if baseline:
                baseline.close()
    print(f"{'idea':<32}{'before (' + BASELINE + ')':>18}{'now':>8}{'ratio':>8}  verdicts    byte-identical")
    ratios = []
    for name, r in results.items():
        ratio = r["now"] / r["before"]
        ratios.append(ratio)
        verdicts = f"{r['old_verdict'] or '?':>5} -> {r['verdict']:<5}"
        print(f"{name:<32}{r['before']:>18.3f}{r['now']:>8.3f}{ratio:>8.2f}  {verdicts}  "
              f"{'yes' if r['byte_identical'] else 'NO'}")
    total_old = sum(r["before"] for r in results.values())
    total_new = sum(r["now"] for r in results.values())
    ratio = total_new / total_old
    print(f"total: before {total_old:.3f} s, now {total_new:.3f} s, ratio {ratio:.2f} (budget {BUDGET:.1f}x); "
          f"worst idea {max(ratios):.2f}x; load average now {os.getloadavg()[0]:.2f}")
    identical = all(r["byte_identical"] for r in results.values())
    return 0 if identical and (baseline is None or ratio <= BUDGET) else 1


if __name__ == "__main__":
    sys.exit(main())
