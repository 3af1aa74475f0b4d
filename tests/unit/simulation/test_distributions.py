import numpy as np
import pytest

from smvm.simulation.distributions import cdf, correlation_matrix, ppf
from smvm.simulation.execution import Plan as _Plan
from smvm.simulation.sobol import sobol_points
from tests.unit.simulation.conftest import make_config

pytestmark = pytest.mark.unit


def _spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.fixture(scope="module")
def draws_100k():
    cfg = make_config()
    plan = _Plan(cfg)
    xs = [plan.draws(k, 2048)[1] for k in range(49)]  # 100,352 paths
    x = {name: np.concatenate([d[name] for d in xs]) for name in xs[0]}
    return cfg, x


def test_sampled_marginals_match_their_targets(draws_100k):
    cfg, x = draws_100k
    for spec in cfg["inputs"]:
        if spec["high"] - spec["low"] < 1e-12:
            continue
        values = np.sort(x[spec["name"]])
        empirical = (np.arange(1, values.size + 1) - 0.5) / values.size
        ks = np.abs(cdf(spec, values) - empirical).max()
        assert ks <= 0.02, (spec["name"], ks)


def test_achieved_rank_correlations_match_targets(draws_100k):
    cfg, x = draws_100k
    assert cfg["correlation"]["repaired"] is False
    names = cfg["correlation"]["names"]
    target = np.array(cfg["correlation"]["target_rank"])
    checked = 0
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            achieved = _spearman(x[a], x[names[j]])
            assert abs(achieved - target[i, j]) <= 0.02, (a, names[j], achieved, target[i, j])
            checked += target[i, j] != 0
    assert checked >= 4


def test_inconsistent_correlations_are_repaired_and_reported():
    pairs = [{"a": "x", "b": "y", "rank_corr": 0.9}, {"a": "y", "b": "z", "rank_corr": 0.9},
             {"a": "x", "b": "z", "rank_corr": -0.9}]
    out = correlation_matrix(["x", "y", "z"], pairs)
    assert out["repaired"] is True and out["repair_max_change"] > 0
    assert np.linalg.eigvalsh(np.array(out["gaussian"])).min() > 0


def test_own_sobol_matches_scipy_unscrambled():
    from scipy.stats import qmc

    assert np.array_equal(sobol_points(1024, 20, None), qmc.Sobol(20, scramble=False).random(1024))


def test_scrambled_sobol_keeps_balance_and_stays_inside_unit_interval():
    u = sobol_points(4096, 15, np.random.default_rng(3))
    assert u.min() > 0 and u.max() < 1
    for j in range(15):
        assert np.unique(np.floor(u[:, j] * 4096)).size == 4096


@pytest.mark.parametrize("spec", [
    {"distribution": "pert", "low": 10.0, "likely": 14.0, "high": 30.0},
    {"distribution": "triangular", "low": 10.0, "likely": 14.0, "high": 30.0},
    {"distribution": "lognormal", "low": 10.0, "likely": 14.0, "high": 30.0},
    # The posteriors evidence yields: Beta–binomial churn, Gamma–Poisson expected customer counts.
    {"distribution": "beta", "a": 12.0, "b": 230.0, "low": 0.0, "likely": 0.05, "high": 0.1},
    {"distribution": "gamma", "shape": 120.5, "scale": 1.0, "low": 0.0, "likely": 120.0, "high": 200.0},
    {"distribution": "gamma", "shape": 0.5, "scale": 1.0, "low": 0.0, "likely": 0.2, "high": 1.0},
])
def test_ppf_inverts_cdf(spec):
    u = np.linspace(1e-6, 1 - 1e-6, 10001)
    assert np.abs(cdf(spec, ppf(spec, u)) - u).max() < 1e-5
