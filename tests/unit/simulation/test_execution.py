import json
from pathlib import Path

import numpy as np
import pytest

from smvm.market.competitors import synthesize_competitors
from smvm.market.ingestion import ingest_market_data
from smvm.market.personas import synthesize_personas
from smvm.simulation.config import MAX_ITERATIONS, build_simulation_config
from smvm.simulation.execution import pool_for, run_simulation
from tests.unit.simulation.conftest import REQUEST, make_config

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).with_name("golden")


def _digest(result):
    # The golden file pins the decision-relevant numbers, not every float, so it survives harmless refactors.
    return {"paths": result["paths"], "metrics": result["metrics"],
            "verdict": {k: result["verdict"][k] for k in ("verdict", "score", "probabilities")},
            "npv": result["outputs"]["npv"], "arr_36": result["outputs"]["arr_36"],
            "sobol_top3": [e["input"] for e in result["sensitivity"]["sobol"]["indices"][:3]],
            "scenario_p_npv": {k: v["metrics"]["p_npv_positive"] for k, v in result["scenarios"]["results"].items()}}


@pytest.mark.parametrize(("name", "kwargs"), [("base_sobol_seed7", {"seed": 7}),
                                              ("mc_seed11", {"seed": 11, "sampler": "mc"}),
                                              ("downturn_seed7", {"seed": 7, "scenario": "downturn"})])
def test_golden_seed_regression(name, kwargs):
    got = _digest(run_simulation(make_config(**kwargs), threads=1))
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    assert got["paths"] == expected["paths"]
    assert got["sobol_top3"] == expected["sobol_top3"]
    assert got["verdict"] == expected["verdict"]
    for block in ("metrics", "npv", "arr_36", "scenario_p_npv"):
        for key, value in expected[block].items():
            assert got[block][key] == pytest.approx(value, rel=1e-7, abs=1e-9), (block, key)


def test_byte_identical_for_any_thread_count(small_config):
    one = json.dumps(run_simulation(small_config, threads=1), sort_keys=True)
    two = json.dumps(run_simulation(small_config, threads=2), sort_keys=True)
    four = json.dumps(run_simulation(small_config, threads=4), sort_keys=True)
    assert one == two == four


def test_result_is_plain_json_and_seed_sensitive(small_config):
    res = run_simulation(small_config, threads=2)
    assert json.loads(json.dumps(res)) == res
    other = make_config(seed=8)
    assert run_simulation(other, threads=2)["metrics"] != res["metrics"]


def test_result_shape_and_percentiles_are_ordered(small_config):
    res = run_simulation(small_config, threads=2)
    for name, s in res["outputs"].items():
        assert s["p5"] <= s["p10"] <= s["p50"] <= s["p90"] <= s["p95"], name
    assert len(res["fan_charts"]["revenue"]["p50"]) == 36
    assert sum(res["npv_histogram"]["counts"]) == res["paths"]["used"]
    assert all(a <= b for a, b in zip(res["breakeven_cdf"]["p"], res["breakeven_cdf"]["p"][1:], strict=False))
    sobol = res["sensitivity"]["sobol"]["indices"]
    assert len(sobol) >= 12
    assert all(e["st_ci"][0] <= e["st"] <= e["st_ci"][1] for e in sobol)
    assert len(res["sensitivity"]["tornado"]) == 16  # 15 inputs and the synthetic landscape draw
    assert set(res["scenarios"]["results"]) >= {"base", "bear", "bull", "downturn", "price_cut",
                                                "competitor_entry", "hype_cycle", "seasonality"}


def test_scenarios_use_common_random_numbers(small_config):
    res = run_simulation(small_config, threads=1)["scenarios"]["results"]
    assert res["base"]["delta_vs_base"]["npv_p50"] == 0.0
    assert res["bear"]["metrics"]["npv_p50"] < res["base"]["metrics"]["npv_p50"] < res["bull"]["metrics"]["npv_p50"]
    assert res["competitor_entry"]["metrics"]["arr_36_p50"] < res["base"]["metrics"]["arr_36_p50"]


def test_progress_is_reported_and_ends_at_one(small_config):
    seen = []
    run_simulation(small_config, progress=seen.append, threads=2)
    assert seen[-1] == 1.0 and seen == sorted(seen)


@pytest.mark.parametrize(("kwargs", "message"), [({"iterations": MAX_ITERATIONS + 1}, "simulation_iterations"),
                                                 ({"iterations": 0}, "simulation_iterations"),
                                                 ({"sampler": "lhs"}, "sampler"),
                                                 ({"scenario": "apocalypse"}, "scenario")])
def test_config_rejects_bad_arguments(kwargs, message):
    md = ingest_market_data(REQUEST)
    args = {"iterations": 1000, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_simulation_config(REQUEST, md, synthesize_personas(REQUEST, md, count=2, seed=1),
                                synthesize_competitors(REQUEST, md, count=2, seed=1), **args)


def test_iterations_is_a_floor_under_the_decision_grade_size():
    cfg = make_config(iterations=1000, paths=65_536)
    assert cfg["paths"]["initial"] == 65_536
    assert make_config(iterations=200_000, paths=65_536)["paths"]["initial"] == 200_000
    assert np.isclose(cfg["correlation"]["gaussian"][0][0], 1.0)


def test_a_run_started_inside_a_pool_task_does_not_deadlock(small_config):
    expected = json.dumps(run_simulation(small_config, threads=1), sort_keys=True)
    nested = pool_for(1).submit(run_simulation, small_config, threads=1).result(timeout=120)
    assert json.dumps(nested, sort_keys=True) == expected
