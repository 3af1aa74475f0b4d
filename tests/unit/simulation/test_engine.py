import copy

import numpy as np
import pytest

from smvm.simulation.engine import (
    HORIZON,
    P_SOLVE_BOUNDS,
    bass_cdf,
    landscape_index,
    mnl_shares,
    prepare_model,
    simulate,
    solve_bass_p,
)
from smvm.simulation.execution import Plan
from smvm.simulation.scenarios import scenario_arrays
from tests.unit.simulation.conftest import BODY, make_config

pytestmark = pytest.mark.unit


def _degenerate(cfg):
    # Every uncertainty at zero: each input pinned to its likely value, no churn, no monthly shocks.
    for spec in cfg["inputs"]:
        if spec["name"] in ("churn", "expansion", "shock_volatility"):
            spec["likely"] = 0.0
        spec["low"] = spec["high"] = spec["likely"]
    return cfg


def _landscape_columns(model, x):
    """The per-path columns of the model's landscape tables, as the kernel gathers them."""
    idx = landscape_index(x["landscape"], model["landscapes"])
    return {k: model[k][:, idx] for k in ("share", "log_wtp_mid", "p_mult", "q_mult", "beta")}, idx


@pytest.mark.parametrize("persona_count", [1, 4])
def test_zero_uncertainty_adoption_equals_closed_form_bass(persona_count):
    cfg = _degenerate(make_config(persona_count=persona_count))
    plan = Plan(cfg)
    _, x, z = plan.draws(0, 64)
    out = simulate(x, z, plan.model, {}, keep_monthly=True)
    months = np.arange(1, HORIZON + 1)[:, None]
    model = prepare_model(cfg)
    cols, idx = _landscape_columns(model, x)
    p = x["bass_p"][None, None, :] * cols["p_mult"][None]
    q = x["bass_q"][None, None, :] * cols["q_mult"][None]
    # Rebuild each segment's ceiling the way the kernel does (fitted choice model, the path's landscape), then
    # sum the closed-form Bass curves.
    from scipy.special import ndtr

    price = x["price"]
    accounts = model["sam_accounts"] * cols["share"] * x["market_size"]
    acc = ndtr((cols["log_wtp_mid"] + np.log(x["wtp_level"]) - np.log(price)) * model["inv_wtp_sigma"])
    own = np.exp(x["product_advantage"] + model["log_base"][idx] - cols["beta"] * (np.log(price) - model["log_ref"][idx]))
    comp = model["comp_const"][idx] * np.exp(x["competitor_strength"])
    ceiling = accounts * acc * own / (1.0 + own + comp)
    expected = (ceiling[None] * bass_cdf(p, q, months[:, :, None])).sum(axis=1)
    rel = np.abs(out["monthly"]["customers"] - expected) / expected
    assert rel.max() <= 1e-9


def test_traction_solve_reproduces_the_adopters_so_far():
    rng = np.random.default_rng(3)
    ceiling = rng.uniform(100, 5000, size=(3, 400))
    p_mult = rng.uniform(0.5, 2.0, size=(3, 400))
    q = rng.uniform(0.01, 0.06, size=(3, 400))
    target = rng.uniform(1, 0.5 * ceiling.sum(axis=0))
    p = solve_bass_p(ceiling, p_mult, q, 9.0, target)
    got = (ceiling * bass_cdf(p * p_mult, q, 9.0)).sum(axis=0)
    assert np.allclose(got, target, rtol=1e-5)
    saturated = solve_bass_p(ceiling, p_mult, q, 9.0, ceiling.sum(axis=0) * 2)
    assert np.all(saturated == P_SOLVE_BOUNDS[1])


def test_traction_starts_the_simulation_from_the_customers_the_client_has():
    body = copy.deepcopy(BODY)
    body["evidence"] = {"traction": {"customers": 400, "monthly_revenue": 40_000.0, "months": 10}}
    cfg = make_config(body=body)
    plan = Plan(cfg)
    _, x, z = plan.draws(0, 512)
    out = simulate(x, z, plan.model, {}, keep_monthly=True)
    # Month 1 starts from today's 400 customers (less a month's churn, plus a month's new ones), not from zero.
    assert 400 * 0.95 <= np.median(out["monthly"]["customers"][0]) <= 400 * 1.3
    assert np.median(out["monthly"]["revenue"][0]) > 30_000.0


def test_a_launch_delay_holds_adoption_at_zero_until_launch():
    cfg = make_config()
    cfg["market"]["launch_delay_months"] = 6.0
    plan = Plan(cfg)
    _, x, z = plan.draws(0, 256)
    out = simulate(x, z, plan.model, {}, keep_monthly=True)
    assert np.abs(out["monthly"]["customers"][:6]).max() < 1e-6
    assert np.all(out["monthly"]["customers"][7] > 0.0)


def test_bass_closed_form_solves_the_hazard_equation():
    p, q, t = 0.003, 0.04, np.linspace(0.0, 60.0, 601)
    f = bass_cdf(p, q, t)
    dfdt = np.gradient(f, t)
    assert np.allclose(dfdt[5:-5], (p + q * f[5:-5]) * (1 - f[5:-5]), rtol=1e-3)


@pytest.mark.parametrize("shape", [(3,), (5, 11), (2, 7, 4)])
def test_mnl_shares_sum_to_one(shape):
    rng = np.random.default_rng(1)
    u = rng.normal(0, 3, size=shape)
    s = mnl_shares(u, scale=1.7)
    assert np.all(s > 0)
    assert np.allclose(s.sum(axis=-1), 1.0, atol=1e-12)


def test_mnl_shares_are_stable_for_large_utilities():
    s = mnl_shares(np.array([1000.0, 999.0, -1000.0]))
    assert np.isfinite(s).all() and s.sum() == pytest.approx(1.0)


def test_kernel_choice_shares_with_outside_option_sum_to_one():
    cfg = make_config(persona_count=2, competitor_count=6)
    plan = Plan(cfg)
    _, x, z = plan.draws(0, 256)
    m = plan.model
    cols, idx = _landscape_columns(m, x)
    own = np.exp(x["product_advantage"] + m["log_base"][idx] - cols["beta"] * (np.log(x["price"]) - m["log_ref"][idx]))
    comp = m["comp_const"][idx] * np.exp(x["competitor_strength"])
    ours = own / (1.0 + own + comp)
    rivals = comp / (1.0 + own + comp)
    outside = 1.0 / (1.0 + own + comp)
    assert np.allclose(ours + rivals + outside, 1.0)
    out = simulate(x, z, m, {})
    assert np.allclose(out["market_share"], (ours * cols["share"]).sum(axis=0))


def test_with_no_advantage_at_the_reference_price_we_get_a_typical_competitors_share():
    cfg = make_config(persona_count=1, competitor_count=9)
    m = Plan(cfg).model
    # e^(ln(s̄/s0)) / (e^(ln(s̄/s0)) + S/s0 + 1) = s̄ / (s̄ + S + s0) = s̄ / (s̄ + 1)
    base, const = np.exp(m["log_base"]), m["comp_const"]
    typical = base / (1 + const)  # s̄ = e^base · s0 and S + s0 = 1, so s0 = 1 / (1 + S/s0)
    assert np.allclose(base / (base + const + 1.0), typical / (typical + 1.0))


def test_kernel_blocks_and_scratch_buffers_never_change_a_result():
    # The kernel tiles paths into cache-sized blocks and reuses per-thread scratch arrays: results must be
    # bit-identical for any block size, and a later call must not overwrite an earlier call's outputs.
    cfg = make_config(persona_count=3, competitor_count=4)
    plan = Plan(cfg)
    _, x, z = plan.draws(0, 2048)
    whole = simulate(x, z, plan.model, plan.scenario, keep_monthly=True, block=2048)
    snapshot = {k: v.copy() for k, v in whole.items() if k != "monthly"}
    _, x2, z2 = plan.draws(1, 2048)
    simulate(x2, z2, plan.model, plan.scenario, block=2048)
    for block in (256, 1000):
        tiled = simulate(x, z, plan.model, plan.scenario, keep_monthly=True, block=block)
        for k, v in snapshot.items():
            assert np.array_equal(whole[k], v), k
            assert np.array_equal(tiled[k], v), (k, block)
        for k, v in whole["monthly"].items():
            assert np.array_equal(tiled["monthly"][k], v), (k, block)


@pytest.mark.parametrize("scenario", ["base", "downturn", "competitor_entry"])
def test_npv_only_gives_the_same_npv(scenario):
    cfg = make_config(persona_count=3, competitor_count=4)
    plan = Plan(cfg)
    _, x, z = plan.draws(0, 1024)
    sc = scenario_arrays(cfg["scenarios"][scenario])
    full = simulate(x, z, plan.model, sc)
    only = simulate(x, z, plan.model, sc, npv_only=True)
    assert set(only) == {"npv"}
    assert np.array_equal(only["npv"], full["npv"])


def test_first_month_matches_a_month_by_month_scan():
    from smvm.simulation.engine import NEVER, _first_month

    rng = np.random.default_rng(5)
    flow = np.cumsum(rng.standard_normal((HORIZON, 500)) * 0.4 + 0.03, axis=0) - 1.0
    expected = np.full(500, float(NEVER))
    for t in range(HORIZON - 1, -1, -1):
        expected[flow[t] > 0] = t + 1
    assert np.array_equal(_first_month(flow > 0), expected)
