"""Proof against known truth (`make calibrate`, or `python -m benchmarks.calibrate`).

For ideas of the evaluation set, draw hidden "true" markets from the same distributions the T0 run simulates (each
truth is a path of an independent chunk of the run's own plan, so it is a draw from the prior, never one of the
worlds), simulate the first 30 days a founder would observe from each truth (counts negative binomial and money
lognormal around the truth's expectation, the noise the update assumes), run the posterior update, and print:

- coverage of the posterior 80 % interval for 36-month revenue (target 80 % ± 5 points), beside the prior's;
- how often the posterior verdict equals the verdict under the true parameters, against the same for the T0
  (prior) verdict: the posterior must do better;
- the calibration ledger's figures for the same observations: how often they fell inside the T0 forecast's
  central 50 %, 80 % and 95 % intervals.

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "examples" / "eval"
IDEAS = ("saas-month_end_close", "saas-hr_onboarding_cac", "saas-site_meeting_notes", "technology-api_analytics",
         "finance-earned_wage_access", "healthcare-clinic_physio", "retail-refill_cleaning",
         "marketplace-pet_sitting", "consumer_subscription-science_kits", "other-escape_room_booking")
SEED = 7
TRUTH_CHUNK = 1_000  # truths come from chunks far past the worlds' (0..3), so they are independent draws
COVERAGE_TARGET = (0.75, 0.85)
OBSERVED = {"paying_customers": "obs_customers", "churned_customers": "obs_churned", "mrr": "obs_mrr",
            "acquisition_spend": "obs_acquisition_spend"}


def _observe(truth: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, Any]:
    from smvm.simulation.posterior import COUNT_DISPERSION, MONEY_LOG_SD

    observed: dict[str, Any] = {"window_days": 30}
    for name, output in OBSERVED.items():
        mu = float(truth[output][0])
        if name in MONEY_LOG_SD:
            observed[name] = round(max(mu, 1e-6) * math.exp(rng.normal(0.0, MONEY_LOG_SD[name])), 2)
        else:
            # Negative binomial as a Gamma–Poisson mixture with the update's dispersion.
            observed[name] = int(rng.poisson(rng.gamma(COUNT_DISPERSION, max(mu, 1e-9) / COUNT_DISPERSION)))
    observed["churned_customers"] = min(observed["churned_customers"], observed["paying_customers"])
    if observed["paying_customers"] == 0:
        observed.pop("mrr")
    return observed


def _run_idea(args: tuple[str, int]) -> list[dict[str, Any]]:
    from smvm.calibration.ledger import records
    from smvm.decision import rules
    from smvm.intake.validation import parse_request
    from smvm.pipeline.decide import decide
    from smvm.simulation.engine import simulate
    from smvm.simulation.execution import Plan
    from smvm.simulation.posterior import update

    name, truths = args
    body = json.loads((EVAL / f"{name}.json").read_text())["request"]
    request = parse_request(copy.deepcopy(body))
    request["run_id"] = "RUN-CAL"
    stages = decide(request, seed=SEED, verdict_only=True, threads=1)
    config, prior_verdict = stages["simulation_config"], stages["decision"]["recommendation"]
    facts = config["verdict"]["facts"]
    plan = Plan(config)
    rng = np.random.default_rng([SEED, len(name)])
    rows = []
    for k in range(truths):
        _, x, z = plan.draws(TRUTH_CHUNK + k, 1)
        truth = simulate(x, z, plan.model, plan.scenario)
        true_class = rules.CLASSES[int(rules.classify(truth, facts)["classes"][0])]
        revenue = float(truth["revenue_y1"][0] + truth["revenue_y2"][0] + truth["revenue_y3"][0])
        observed = _observe(truth, rng)
        post = update(config, observed, threads=1)
        interval = post["outputs"]["revenue_36"]
        rows.append({
            "idea": name, "truth": true_class, "prior_verdict": prior_verdict,
            "posterior_verdict": post["posterior"]["verdict"],
            "posterior_covers": interval["posterior"]["p10"] <= revenue <= interval["posterior"]["p90"],
            "prior_covers": interval["prior"]["p10"] <= revenue <= interval["prior"]["p90"],
            "tempered": post["likelihood"]["tempered"],
            "ledger": records("RUN-CAL", stages["market_data"]["domain"]["name"], post),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", type=int, default=25, help="hidden markets per idea (10 ideas)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    from smvm.calibration.ledger import coverage

    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = [row for part in pool.map(_run_idea, [(name, args.truths) for name in IDEAS]) for row in part]
    n = len(rows)
    post_cov = sum(r["posterior_covers"] for r in rows) / n
    prior_cov = sum(r["prior_covers"] for r in rows) / n
    prior_acc = sum(r["prior_verdict"] == r["truth"] for r in rows) / n
    post_acc = sum(r["posterior_verdict"] == r["truth"] for r in rows) / n
    ledger = coverage(entry for r in rows for entry in r["ledger"])
    print(f"SMVM calibration against known truth: {n} synthetic markets ({args.truths} per idea, {len(IDEAS)} ideas), "
          f"30 days observed each, {time.perf_counter() - started:.0f} s")
    print(f"36-month revenue inside the posterior 80 % interval: {post_cov:.1%} (target 80 % ± 5; the prior's "
          f"interval covered {prior_cov:.1%})")
    print(f"verdict equal to the verdict under the true parameters: posterior {post_acc:.1%}, prior (T0) {prior_acc:.1%}")
    tempered = sum(r["tempered"] for r in rows)
    print(f"updates that had to temper the likelihood (observations in the prior's far tail): {tempered} of {n}")
    overall = ledger["overall"]
    print(f"ledger: {overall['count']} observations; inside the T0 forecast's 50 % interval {overall['inside_50']:.1%}, "
          f"80 % {overall['inside_80']:.1%}, 95 % {overall['inside_95']:.1%}")
    for metric, entry in ledger["by_metric"].items():
        print(f"  {metric:<20} {entry['count']:>4}: 50 % {entry['inside_50']:.1%}, 80 % {entry['inside_80']:.1%}, "
              f"95 % {entry['inside_95']:.1%}")
    by_idea = {}
    for r in rows:
        by_idea.setdefault(r["idea"], []).append(r)
    for idea, group in by_idea.items():
        print(f"  {idea:<36} prior {group[0]['prior_verdict']:<5} truths "
              + " ".join(f"{c}:{sum(g['truth'] == c for g in group)}" for c in ("GO", "PIVOT", "KILL"))
              + f"  posterior right {sum(g['posterior_verdict'] == g['truth'] for g in group)}/{len(group)}")
    ok = COVERAGE_TARGET[0] <= post_cov <= COVERAGE_TARGET[1] and post_acc > prior_acc
    print(f"RESULT: {'targets met' if ok else 'TARGETS MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
