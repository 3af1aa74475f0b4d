import copy
import json
from pathlib import Path

import numpy as np
import pytest

from smvm.simulation.services import MAX_ITERATIONS, build_simulation_config, compare_variants, run_simulation
from tests.unit.simulation.conftest import REQUEST, make_config

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).with_name("golden")


def _digest(result):
    # The golden file pins the decision-relevant numbers, not every float, so it survives harmless refactors.
    return {"paths": result["paths"], "metrics": result["metrics"],
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
    assert len(res["sensitivity"]["tornado"]) == 15
    assert set(res["scenarios"]["results"]) >= {"base", "bear", "bull", "downturn", "price_cut",
                                                "competitor_entry", "hype_cycle", "seasonality"}


def test_scenarios_use_common_random_numbers(small_config):
    res = run_simulation(small_config, threads=1)["scenarios"]["results"]
    assert res["base"]["delta_vs_base"]["npv_p50"] == 0.0
    assert res["bear"]["metrics"]["npv_p50"] < res["base"]["metrics"]["npv_p50"] < res["bull"]["metrics"]["npv_p50"]
    assert res["competitor_entry"]["metrics"]["arr_36_p50"] < res["base"]["metrics"]["arr_36_p50"]


def test_run_extends_itself_when_a_threshold_is_inside_the_ci():
    cfg = make_config(paths=8192)
    cfg["convergence"]["max_paths"] = 32_768
    est = run_simulation(cfg, threads=1)["convergence"]["metrics"]["p_npv_positive"]["estimate"]
    cfg["convergence"]["thresholds"] = {"p_npv_positive": [est]}
    res = run_simulation(cfg, threads=2)
    assert res["paths"]["extended"] is True
    assert res["paths"]["used"] == 32_768
    assert "cap reached" in res["convergence"]["stop_reason"]


def test_progress_is_reported_and_ends_at_one(small_config):
    seen = []
    run_simulation(small_config, progress=seen.append, threads=2)
    assert seen[-1] == 1.0 and seen == sorted(seen)


@pytest.mark.parametrize(("kwargs", "message"), [({"iterations": MAX_ITERATIONS + 1}, "simulation_iterations"),
                                                 ({"iterations": 0}, "simulation_iterations"),
                                                 ({"sampler": "lhs"}, "sampler"),
                                                 ({"scenario": "apocalypse"}, "scenario")])
def test_config_rejects_bad_arguments(kwargs, message):
    from smvm.market.services import ingest_market_data, synthesize_competitors, synthesize_personas

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
    from smvm.simulation.services import _pool

    expected = json.dumps(run_simulation(small_config, threads=1), sort_keys=True)
    nested = _pool(1).submit(run_simulation, small_config, threads=1).result(timeout=120)
    assert json.dumps(nested, sort_keys=True) == expected


def _one_chunk(cfg, paths):
    cfg = copy.deepcopy(cfg)
    cfg["paths"].update(initial=paths, chunk_size=paths)
    cfg["convergence"]["max_paths"] = paths
    cfg["analyses"].update(sensitivity=False, scenarios=False, fan_paths=0, importance_paths=0)
    return cfg


def test_scaled_draws_equal_a_run_on_the_scaled_distributions():
    # compare_variants scales draws instead of rebuilding each input's distribution; that is exact only because
    # every marginal is scale-equivariant. A run whose low/likely/high were scaled must give the same metrics.
    cfg = _one_chunk(make_config(), 4096)
    factors = {"price": 0.85, "cac": 0.7, "market_size": 0.85, "opex": 1.1, "churn": 0.7}
    scaled = copy.deepcopy(cfg)
    for spec in scaled["inputs"]:
        if spec["name"] in factors:
            for key in ("low", "likely", "high"):
                spec[key] *= factors[spec["name"]]
    base, varied = compare_variants(cfg, [({}, None), (factors, None)], paths=4096)
    assert base == pytest.approx(run_simulation(cfg, threads=1)["metrics"], rel=1e-9, nan_ok=True)
    assert varied == pytest.approx(run_simulation(scaled, threads=1)["metrics"], rel=1e-9, nan_ok=True)
    assert varied["p_npv_positive"] != base["p_npv_positive"]


def test_a_variant_model_config_replaces_the_segments():
    cfg = _one_chunk(make_config(), 2048)
    focused = copy.deepcopy(cfg)
    focused["segments"] = [dict(focused["segments"][0], sam_share=1.0)]
    [whole, one_segment] = compare_variants(cfg, [({}, None), ({}, focused)], paths=2048)
    assert one_segment == pytest.approx(run_simulation(focused, threads=1)["metrics"], rel=1e-9, nan_ok=True)
    assert one_segment != whole
