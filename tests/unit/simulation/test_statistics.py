import numpy as np
import pytest

from smvm.simulation.statistics import percentiles as _percentiles

pytestmark = pytest.mark.unit


def test_percentiles_are_numpys_bit_for_bit():
    rng = np.random.default_rng(0)
    qsets = [(5, 10, 50, 90, 95), (10, 50), (50, 90), (50,), (0, 100), (1, 99, 50), (100,), (0,), (99.9, 0.1)]
    for trial in range(3000):
        n = int(rng.choice([2, 3, 5, 17, 100, 1000, 2048, 4096, 8191, 8192]))
        kind = trial % 4
        if kind == 0:
            a = rng.standard_normal(n)
        elif kind == 1:
            a = rng.integers(1, 38, n).astype(float)  # ties, like break-even months
        elif kind == 2:
            a = rng.lognormal(sigma=3, size=n) * 1e6 - 2e6
        else:
            a = np.where(rng.random(n) < 0.5, 37.0, rng.standard_normal(n))
        qs = qsets[trial % len(qsets)]
        before = a.copy()
        assert np.array_equal(_percentiles(a, qs), np.percentile(a, qs)), (n, kind, qs)
        assert np.array_equal(a, before)


def test_percentiles_propagate_nan_like_numpy():
    a = np.arange(100.0)
    a[3] = np.nan
    assert np.isnan(_percentiles(a, (5, 50))).all()


def test_row_medians_are_numpys_bit_for_bit():
    from smvm.simulation.statistics import row_medians as _row_medians

    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 1000, 4097, 65536):
        u = rng.random((15, n)).astype(np.float32)
        u[0, : n // 3] = 0.5  # ties
        u[1, 0] = 1.0
        u[2, -1] = 0.0
        assert np.array_equal(_row_medians(u), np.median(u.astype(np.float64), axis=1)), n


def test_month_percentiles_are_numpys_bit_for_bit():
    from smvm.simulation.statistics import month_percentiles as _month_percentiles

    rng = np.random.default_rng(2)
    qs = (5, 10, 50, 90, 95, 1, 99, 0, 100)
    for n in (2, 3, 10, 999, 65536):
        for months in (rng.integers(1, 38, n), np.full(n, 37), rng.choice([3, 37], n)):
            a = months.astype(np.float64)
            assert np.array_equal(_month_percentiles(a, qs), np.percentile(a, qs)), n


def test_sorted_percentiles_are_numpys_bit_for_bit():
    from smvm.simulation.statistics import PERCENTILES
    from smvm.simulation.statistics import sorted_percentiles as _sorted_percentiles

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 1000, 32_769, 65_536):
        rows = np.stack([rng.standard_normal(n), rng.integers(0, 5, n).astype(float),
                         rng.lognormal(sigma=3, size=n) * 1e6 - 2e6, np.zeros(n)])
        for qs in (PERCENTILES, (1, 99, 5, 10, 50, 90, 95), (0, 100), (99.9, 0.1)):
            got = _sorted_percentiles(np.sort(rows, axis=1), qs)
            assert np.array_equal(got, np.percentile(rows, qs, axis=1).T), (n, qs)
            assert np.array_equal(_percentiles(rows[0], qs), np.percentile(rows[0], qs)), (n, qs)
    with_nan = rows.copy()
    with_nan[1, 7] = np.nan
    got = _sorted_percentiles(np.sort(with_nan, axis=1), PERCENTILES)
    assert np.isnan(got[1]).all() and not np.isnan(got[[0, 2, 3]]).any()
