"""The sentences that once contradicted the numbers beside them, each pinned."""

import pytest

from smvm.reports.content import _scenario_sentence, build_report
from smvm.reports.render import render_markdown_report
from smvm.reports.vocabulary import share

pytestmark = pytest.mark.unit


def scenario(p, npv):
    return {"description": "d", "metrics": {"p_npv_positive": p, "npv_p50": npv, "arr_36_p50": 1.0}}


@pytest.mark.parametrize(("base", "bear", "expected"), [
    (1.0, 1.0, "stays at 100%"),
    (1.0, 0.999, "falls from 100% to >99%"),
    (0.998, 0.997, "stays at >99%"),
    (0.40, 0.10, "falls from 40% to 10%"),
    (0.002, 0.001, "stays at <1%"),
])
def test_the_bear_case_never_falls_from_a_number_to_the_same_number(base, bear, expected):
    text = _scenario_sentence({"base": scenario(base, 5e6), "bear": scenario(bear, 4e6)})
    assert expected in text
    assert not any(f"from {v} to {v}" in text for v in ("100%", ">99%", "<1%", "0%"))


def test_the_median_npv_never_moves_from_a_number_to_the_same_number():
    text = _scenario_sentence({"base": scenario(0.0, -2.80e6), "bear": scenario(0.0, -2.81e6)})
    assert "median NPV stays near -$2.8M" in text and "from -$2.8M to -$2.8M" not in text


def test_percentages_never_round_a_possibility_away():
    assert share(0.0) == "0%" and share(1.0) == "100%"
    assert share(0.001) == "<1%" and share(0.999) == ">99%" and share(0.43) == "43%"


def test_no_failure_drivers_for_a_failure_rate_of_zero(bundle_copy):
    bundle = bundle_copy("GO")
    wdf = bundle["simulation_result"]["sensitivity"]["what_drives_failure"]
    wdf["p_failure"] = 0.0
    wdf["drivers"] = [{"input": "churn", "direction": "high", "median_percentile": 80.0, "significance": 0.9,
                       "significant": True, "statement": "churn at P80 in failing paths"}]
    md = render_markdown_report(bundle)
    drivers = md.split("## What drives the outcome")[1].split("## ")[0]
    assert "too few to say what drives failure" in drivers
    assert "P80" not in drivers and "sits at its" not in drivers


def test_a_pivot_beside_positive_npv_everywhere_says_why_it_is_not_a_go(bundle_copy):
    bundle = bundle_copy("PIVOT")
    sim, dec = bundle["simulation_result"], bundle["decision"]
    sim["metrics"]["p_npv_positive"] = 1.0
    for result in sim["scenarios"]["results"].values():
        result["metrics"]["p_npv_positive"] = 1.0
    dec["go_gates_failed"] = [{"rule": "ltv_cac", "message": "LTV/CAC at least 3", "failing_share": 0.7}]
    report = build_report(bundle)
    why_not = report["summary"]["why_not"]
    assert why_not.startswith("Why not GO, with NPV positive in 100% of futures?")
    assert "70% of futures" in why_not and "3x" in why_not
    md = render_markdown_report(bundle)
    assert why_not in md.split("## How the verdict")[0]
    assert "positive NPV is 100% in every scenario" in md


def test_a_flip_point_naming_the_verdict_already_given_is_not_offered_as_a_change(bundle_copy):
    bundle = bundle_copy("PIVOT")
    bundle["decision"]["what_would_change_it"] = [
        {"input": "wtp_level", "factor": 2.28, "value": 2.28, "from": 1.0, "verdict": "PIVOT",
         "statement": "willingness to pay at x2.28 of today's estimate would make it a PIVOT"}]
    report = build_report(bundle)
    text = " ".join(report["summary"]["what_would_change_it"])
    assert "make it a PIVOT" not in text
    assert "would make it a PIVOT" not in render_markdown_report(bundle)


def test_inputs_backed_by_evidence_cite_the_evidence_not_the_benchmark(bundles):
    md = render_markdown_report(bundles["GO"])
    table = md.split("## Inputs: benchmarks against your evidence")[1].split("\n\n")
    rows = [line for block in table for line in block.splitlines() if line.startswith("| ")]
    churn = next(r for r in rows if r.startswith("| Monthly churn"))
    assert "Your evidence: observed 1.8% monthly churn" in churn
    assert "Recurly" not in churn  # the benchmark's citation stays with the benchmark
    assert "benchmark was" in churn
    benchmark = next(r for r in rows if r.startswith("| Word of mouth"))
    assert "Benchmark: Sultan, Farley & Lehmann" in benchmark


def test_a_kill_leads_with_the_failing_must_meet_on_the_clients_own_figures(bundles):
    report = build_report(bundles["KILL"])
    drivers = report["summary"]["drivers"]
    assert drivers[0].startswith(("Every customer loses money", "Even winning the whole reachable market",
                                  "Each customer costs more to win"))
    assert all("on your own figures" in d or d.startswith("No single change") for d in drivers)


def test_a_go_says_what_it_rests_on_and_shows_no_kill_reasons(bundles):
    report = build_report(bundles["GO"])
    text = " ".join(report["summary"]["drivers"])
    assert "650 paying customers" in text and "must-meet" not in text
    assert report["summary"]["headline"].startswith("Go ahead")
