"""Evaluate the decision like a model (`make eval`, or `python -m benchmarks.evaluate [DIR]`).

Runs every idea of an evaluation set (``examples/eval`` by default; see its README for the format) and prints the
confusion matrix, exact and acceptable rates, per-class recall, seed stability, and metamorphic relations that must
hold whatever the true verdict is:

- invariance: a paraphrased title and description (same facts) leave verdict and score within 1 point; JSON key
  order changes nothing;
- monotonicity: SAM and SOM x10 never worsen the verdict; negative evidence (14 % monthly churn, CAC x3, a survey
  whose "too expensive" answers sit below half the price, zero customers after 12 months) never improves verdict
  or score;
- proportionality: one client-named competitor with a 1 % share at $0 moves a GO by at most one class and 10 points.

Exits 1 when a target is missed (exact >= 80 %, acceptable >= 95 %, every class's recall >= 70 %, no relation
violated, seed flips only on runs labelled borderline).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "examples" / "eval"
CLASSES = ("GO", "PIVOT", "KILL")
RANK = {"KILL": 0, "PIVOT": 1, "GO": 2}
BASE_SEED = 7
STABILITY_SEEDS = (11, 23, 101)
TARGETS = {"exact": 0.80, "acceptable": 0.95, "recall": 0.70}
PARAPHRASE_POINTS = 1.0
COMPETITOR_POINTS = 10.0
SCORE_TOLERANCE = 1e-6  # monotonicity allows float noise, nothing more


# --------------------------------------------------------------------------------------------- loading

def load_set(directory: Path) -> list[dict[str, Any]]:
    """Every idea of the set, sorted by file name: ``{"name", "expected", "acceptable", "reason", "request"}``."""
    ideas = []
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        request = doc.get("request") or {k: v for k, v in doc.items()
                                         if k not in ("expected", "acceptable", "reason")}
        expected = doc["expected"].upper()
        acceptable = [a.upper() for a in doc.get("acceptable") or [expected]]
        if expected not in CLASSES or any(a not in CLASSES for a in acceptable):
            raise SystemExit(f"{path}: expected/acceptable must be among {CLASSES}")
        ideas.append({"name": path.stem, "expected": expected, "acceptable": sorted(set(acceptable) | {expected}),
                      "reason": doc.get("reason", ""), "request": request})
    if not ideas:
        raise SystemExit(f"no *.json ideas in {directory}")
    return ideas


# --------------------------------------------------------------------------------------------- running

def _run(body: dict[str, Any], seed: int) -> dict[str, Any]:
    """Parse and decide one request body; a refusal is reported, not raised."""
    from smvm.errors import RequestValidationError
    from smvm.intake.validation import parse_request
    from smvm.pipeline.decide import decide

    try:
        request = parse_request(copy.deepcopy(body))
    except RequestValidationError as exc:
        return {"refused": True, "details": exc.details}
    request["run_id"] = "RUN-EVAL"
    dec = decide(request, seed=seed, verdict_only=True, threads=1)["decision"]
    return {"refused": False, "verdict": dec["recommendation"], "score": dec["score"],
            "probabilities": dec["verdict_probabilities"], "borderline": dec["borderline"]}


def _job(args: tuple[str, str, dict[str, Any], int]) -> tuple[str, str, dict[str, Any]]:
    name, variant, body, seed = args
    return name, variant, _run(body, seed)


# --------------------------------------------------------------------------------------------- variants

def _idea_node(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The object holding the idea's text and sizes, and the key of its title (shapes differ)."""
    if "business_idea" in body:
        return body["business_idea"], "title"
    if "idea" in body:
        return body["idea"], None
    return body, "name"


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _paraphrases(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for label, title in (("title Project Falcon", "Project Falcon"), ("title Acme", "Acme"), ("title v2", None)):
        changed = copy.deepcopy(body)
        node, key = _idea_node(changed)
        if key is None:
            continue
        node[key] = title if title else f"{node.get(key) or 'Untitled'} v2"
        yield f"paraphrase: {label}", changed
    changed = copy.deepcopy(body)
    node, _ = _idea_node(changed)
    sentences = [s.strip() for s in str(node["description"]).replace("\n", " ").split(". ") if s.strip()]
    node["description"] = "In short: " + ". ".join(reversed(sentences)).rstrip(".") + "."
    yield "paraphrase: description reordered", changed


def _price_of(body: dict[str, Any], default: float) -> float:
    evidence = body.get("evidence") or {}
    price = (body.get("financials") or {}).get("planned_price")
    if price:
        return float(price)
    if evidence.get("price_points"):
        return float(statistics.median(evidence["price_points"]))
    traction = evidence.get("traction") or {}
    if traction.get("customers"):
        return float(traction["monthly_revenue"]) / float(traction["customers"])
    return default


def _negative_evidence(body: dict[str, Any], typical_price: float, benchmark_cac: float
                       ) -> Iterator[tuple[str, dict[str, Any]]]:
    retention = body.get("retention") or {}
    if (retention.get("monthly_churn") or 0.0) < 0.14:
        changed = copy.deepcopy(body)
        changed["retention"] = {"monthly_churn": 0.14, "customers": int(retention.get("customers") or 200),
                                "months": int(retention.get("months") or 6)}
        yield "negative: monthly churn 14 %", changed
    changed = copy.deepcopy(body)
    evidence = changed.setdefault("evidence", {})
    if evidence.get("channels"):
        for channel in evidence["channels"]:
            channel["cac"] = channel["cac"] * 3
    else:
        evidence["cac"] = 3 * float(evidence.get("cac") or benchmark_cac)
    yield "negative: CAC x3", changed
    price = _price_of(body, typical_price)
    changed = copy.deepcopy(body)
    changed.setdefault("evidence", {})["wtp_survey"] = [
        {"too_cheap": round(price * f * 0.1, 4), "cheap": round(price * f * 0.2, 4),
         "expensive": round(price * f * 0.3, 4), "too_expensive": round(price * f * 0.4, 4)}
        for f in (0.8, 0.9, 1.0, 1.0, 1.1, 1.2)]
    yield "negative: survey says too expensive below half the price", changed
    traction = (body.get("evidence") or {}).get("traction") or {}
    if traction.get("customers", 1) > 0 or traction.get("months", 0) < 12:
        changed = copy.deepcopy(body)
        changed.setdefault("evidence", {})["traction"] = {"customers": 0, "monthly_revenue": 0, "months": 12}
        if traction.get("customers") and not (body.get("financials") or {}).get("planned_price"):
            # The same idea at the same price: what customers paid stays the price, only nobody buys.
            changed.setdefault("financials", {})["planned_price"] = float(traction["monthly_revenue"]) / float(
                traction["customers"])
        yield "negative: zero customers after 12 months", changed


def _scaled_market(body: dict[str, Any]) -> dict[str, Any] | None:
    changed = copy.deepcopy(body)
    node, _ = _idea_node(changed)
    if not node.get("estimated_sam"):
        return None
    node["estimated_sam"] = node["estimated_sam"] * 10
    if node.get("estimated_som"):
        node["estimated_som"] = node["estimated_som"] * 10
    if node.get("estimated_tam"):
        node["estimated_tam"] = max(node["estimated_tam"], node["estimated_sam"])
    return changed


def _with_trivial_competitor(body: dict[str, Any]) -> dict[str, Any] | None:
    changed = copy.deepcopy(body)
    if "business_idea" not in changed and "idea" not in changed and "evidence" not in changed:
        changed["evidence"] = {}
    competitors = changed.setdefault("evidence", {}).setdefault("competitors", [])
    if sum(c.get("share") or 0.0 for c in competitors) > 0.99 or len(competitors) >= 50:
        return None
    competitors.append({"name": "Tiny Rival (eval)", "price": 0, "share": 0.01})
    return changed


def _benchmarks(body: dict[str, Any]) -> tuple[float, float]:
    """The idea's domain's typical price and CAC (for perturbations of ideas that state neither)."""
    from smvm.intake.validation import parse_request
    from smvm.market.ingestion import ingest_market_data

    market = ingest_market_data(parse_request(copy.deepcopy(body)))
    return float(market["market"]["typical_price"]), float(market["inputs"]["cac"]["prior"]["likely"])


# --------------------------------------------------------------------------------------------- checks

def _compare(kind: str, base: dict[str, Any], other: dict[str, Any]) -> str | None:
    """Why ``other`` violates relation ``kind`` against ``base``, or None."""
    if other["refused"]:
        return None
    if kind == "invariant":
        if other["verdict"] != base["verdict"] or abs(other["score"] - base["score"]) > PARAPHRASE_POINTS:
            return f"{base['verdict']} {base['score']:.1f} -> {other['verdict']} {other['score']:.1f}"
    elif kind == "exact":
        if (other["verdict"], other["score"], other["probabilities"]) != (base["verdict"], base["score"],
                                                                          base["probabilities"]):
            return f"{base['verdict']} {base['score']} -> {other['verdict']} {other['score']}"
    elif kind == "not_worse":
        if RANK[other["verdict"]] < RANK[base["verdict"]]:
            return f"{base['verdict']} -> {other['verdict']}"
    elif kind == "not_better":
        if RANK[other["verdict"]] > RANK[base["verdict"]] or other["score"] > base["score"] + SCORE_TOLERANCE:
            return f"{base['verdict']} {base['score']:.2f} -> {other['verdict']} {other['score']:.2f}"
    elif kind == "proportional":
        if abs(RANK[other["verdict"]] - RANK[base["verdict"]]) > 1 or \
                abs(other["score"] - base["score"]) > COMPETITOR_POINTS:
            return f"{base['verdict']} {base['score']:.1f} -> {other['verdict']} {other['score']:.1f}"
    return None



def _plan(ideas: list[dict[str, Any]]) -> tuple[list[tuple[str, str, dict[str, Any], int]], dict[str, tuple[str, str]]]:
    """Every run to make: (idea, variant, body, seed), and each variant's relation to the base run."""
    jobs, relation = [], {}
    for idea in ideas:
        name, body = idea["name"], idea["request"]
        jobs.append((name, "base", body, BASE_SEED))
        for seed in STABILITY_SEEDS:
            jobs.append((name, f"seed {seed}", body, seed))
        variants: list[tuple[str, dict[str, Any] | None, str]] = [
            *((label, changed, "invariant") for label, changed in _paraphrases(body)),
            ("invariance: JSON key order reversed", _reverse_keys(body), "exact"),
            ("monotone: SAM and SOM x10", _scaled_market(body), "not_worse"),
        ]
        typical, cac = _benchmarks(body)
        variants.extend((label, changed, "not_better") for label, changed in _negative_evidence(body, typical, cac))
        variants.append(("proportional: a named competitor with 1 % at $0", _with_trivial_competitor(body),
                         "proportional"))
        for label, changed, kind in variants:
            if changed is not None:
                jobs.append((name, label, changed, BASE_SEED))
                relation[f"{name}|{label}"] = (label, kind)
    return jobs, relation


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.1%}" if total else "n/a"


def report(ideas: list[dict[str, Any]], results: dict[tuple[str, str], dict[str, Any]],
           relation: dict[str, tuple[str, str]], out: Callable[[str], None] = print) -> bool:
    """Print the evaluation and return whether every target holds."""
    ok = True
    base = {i["name"]: results[(i["name"], "base")] for i in ideas}
    refused = [i["name"] for i in ideas if base[i["name"]]["refused"]]
    for name in refused:
        out(f"REFUSED: {name}: {base[name]['details']}")
    scored = [i for i in ideas if not base[i["name"]]["refused"]]
    matrix = {e: dict.fromkeys(CLASSES, 0) for e in CLASSES}
    for idea in scored:
        matrix[idea["expected"]][base[idea["name"]]["verdict"]] += 1
    out("Confusion matrix (rows: expected, columns: the model's verdict)")
    out(f"{'':>10}" + "".join(f"{c:>8}" for c in CLASSES) + f"{'recall':>10}")
    recall_ok = True
    for e in CLASSES:
        row_total = sum(matrix[e].values())
        recall = matrix[e][e] / row_total if row_total else float("nan")
        recall_ok &= not row_total or recall >= TARGETS["recall"]
        out(f"{e:>10}" + "".join(f"{matrix[e][c]:>8}" for c in CLASSES) + f"{recall:>10.1%}")
    exact = sum(matrix[c][c] for c in CLASSES)
    acceptable = sum(1 for i in scored if base[i["name"]]["verdict"] in i["acceptable"])
    n = len(scored)
    exact_ok = n and exact / n >= TARGETS["exact"]
    acc_ok = n and acceptable / n >= TARGETS["acceptable"]
    out(f"exact {_rate(exact, n)} (target {TARGETS['exact']:.0%})   acceptable {_rate(acceptable, n)} "
        f"(target {TARGETS['acceptable']:.0%})   recall target {TARGETS['recall']:.0%} per class")
    ok &= bool(exact_ok and acc_ok and recall_ok) and not refused
    misses = [i for i in scored if base[i["name"]]["verdict"] != i["expected"]]
    if misses:
        out("Misses (expected -> verdict, acceptable?):")
        for i in misses:
            b = base[i["name"]]
            mark = "acceptable" if b["verdict"] in i["acceptable"] else "NOT ACCEPTABLE"
            out(f"  {i['name']}: {i['expected']} -> {b['verdict']} (score {b['score']:.1f}, "
                f"P {_probs(b)}; {mark}) — {i['reason']}")

    out(f"Seed stability (seeds {BASE_SEED}, {', '.join(map(str, STABILITY_SEEDS))}):")
    flips, unlabelled = [], []
    for idea in scored:
        runs = [base[idea["name"]]] + [results[(idea["name"], f"seed {s}")] for s in STABILITY_SEEDS]
        if len({r["verdict"] for r in runs}) > 1:
            flips.append(idea["name"])
            if not all(r["borderline"] for r in runs):
                unlabelled.append(idea["name"])
    confident = sum(1 for i in scored if not base[i["name"]]["borderline"])
    out(f"  {len(flips)} of {n} ideas change verdict across seeds; {len(unlabelled)} of those not labelled "
        f"borderline by every run; {confident} ideas are not borderline")
    for name in flips:
        verdicts = [base[name]["verdict"]] + [results[(name, f"seed {s}")]["verdict"] for s in STABILITY_SEEDS]
        out(f"  flips: {name}: {' '.join(verdicts)}{' (NOT labelled borderline)' if name in unlabelled else ''}")
    ok &= not unlabelled

    out("Metamorphic relations:")
    by_label: dict[str, list[str]] = {}
    counts: dict[str, list[int]] = {}
    for key, (label, kind) in sorted(relation.items(), key=lambda kv: kv[1][0]):
        name = key.split("|", 1)[0]
        if base[name]["refused"]:
            continue
        other = results[(name, label)]
        tally = counts.setdefault(label, [0, 0, 0])
        if other["refused"]:
            tally[2] += 1
            continue
        tally[0] += 1
        problem = _compare(kind, base[name], other)
        if problem:
            tally[1] += 1
            by_label.setdefault(label, []).append(f"{name}: {problem}")
    for label, (checked, violated, refused_n) in counts.items():
        extra = f", {refused_n} refused as implausible" if refused_n else ""
        out(f"  {label:<58} {violated} violation(s) in {checked} idea(s){extra}")
        for line in by_label.get(label, []):
            out(f"      {line}")
    ok &= not by_label
    out(f"RESULT: {'all targets met' if ok else 'TARGETS MISSED'}")
    return bool(ok)


def _probs(result: dict[str, Any]) -> str:
    p = result["probabilities"]
    return "/".join(f"{p[c]:.2f}" for c in CLASSES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default=os.environ.get("EVAL_DIR") or str(DEFAULT_DIR))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--json", metavar="FILE", help="also write every run's result to FILE")
    args = parser.parse_args(argv)
    ideas = load_set(Path(args.directory))
    jobs, relation = _plan(ideas)
    started = time.perf_counter()
    print(f"Evaluating {len(ideas)} ideas from {args.directory}: {len(jobs)} runs on {args.jobs} process(es)",
          file=sys.stderr, flush=True)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, variant, result in pool.map(_job, jobs, chunksize=4):
            results[(name, variant)] = result
    from smvm.simulation.config import MODEL_VERSION

    print(f"SMVM decision evaluation — model {MODEL_VERSION}, base seed {BASE_SEED}, "
          f"{len(ideas)} ideas, {len(jobs)} runs in {time.perf_counter() - started:.0f} s")
    ok = report(ideas, results, relation)
    if args.json:
        Path(args.json).write_text(json.dumps({f"{k[0]}|{k[1]}": v for k, v in results.items()}, indent=1,
                                              sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
