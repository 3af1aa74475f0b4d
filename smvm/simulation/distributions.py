"""Marginal distributions (PERT, triangular, lognormal, uniform, and the Beta and Gamma posteriors evidence yields)
by inverse CDF, and the Gaussian rank-correlation copula."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

Z90 = 1.2815515655446004  # standard normal P90, so (P10, P90) -> sigma
PERT_LAMBDA = 4.0


def _special() -> Any:
    # scipy.special costs ~0.4 s to import; load it on first use, not when smvm is imported.
    import scipy.special

    return scipy.special


_TABLE_SIZE = 2048


@functools.cache
def _pert_table(low: float, likely: float, high: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """PERT quantiles tabulated on a cosine grid u = (1 − cos(π·s))/2, s uniform.

    ``betaincinv`` runs at ~1 µs per value, far too slow per path, so it is evaluated once per input; the cosine
    grid crowds points into both tails and lets a lookup index the table directly (s = arccos(1 − 2u)/π)
    instead of binary-searching it.
    """
    span = high - low
    a = 1.0 + lam * (likely - low) / span
    b = 1.0 + lam * (high - likely) / span
    s = np.linspace(0.0, 1.0, _TABLE_SIZE + 1)
    grid = 0.5 * (1.0 - np.cos(np.pi * s))
    x = _special().betaincinv(a, b, grid)
    table = low + span * x
    # Knots and slopes (slope[i] = table[i+1] − table[i], the same float the interpolation would compute).
    return table, np.diff(table)


@functools.cache
def _posterior_table(family: str, first: float, second: float) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of a Beta(a, b) on [0, 1] or a Gamma(shape, scale), on the same cosine grid as PERT's."""
    s = np.linspace(0.0, 1.0, _TABLE_SIZE + 1)
    # The Gamma's last quantile is infinite; the grid's ends stop just short of 0 and 1 (u never reaches them).
    grid = np.clip(0.5 * (1.0 - np.cos(np.pi * s)), 1e-12, 1.0 - 1e-12)
    sp = _special()
    table = sp.betaincinv(first, second, grid) if family == "beta" else sp.gammaincinv(first, grid) * second
    return table, np.diff(table)


def _table_lookup(table: tuple[np.ndarray, np.ndarray], u: np.ndarray) -> np.ndarray:
    knots, slope = table
    pos = np.arccos(1.0 - 2.0 * u)
    pos *= _TABLE_SIZE / np.pi
    idx = pos.astype(np.int64)
    np.minimum(idx, _TABLE_SIZE - 1, out=idx)
    frac = np.subtract(pos, idx, out=pos)
    frac *= slope[idx]
    frac += knots[idx]
    return frac


def pert_params(low: float, likely: float, high: float, lam: float = PERT_LAMBDA) -> tuple[float, float]:
    """Beta shape parameters (alpha, beta) of a PERT distribution."""
    span = high - low
    return 1.0 + lam * (likely - low) / span, 1.0 + lam * (high - likely) / span


def lognormal_params(low: float, likely: float, high: float) -> tuple[float, float]:
    """(mu, sigma) with the median at ``likely`` and the P10..P90 width of ``low``..``high``."""
    return math.log(likely), (math.log(high) - math.log(low)) / (2.0 * Z90)


def ppf(spec: dict[str, Any], u: np.ndarray) -> np.ndarray:
    """Map uniforms ``u`` in (0, 1) to the input described by ``spec`` (distribution, low, likely, high)."""
    low, likely, high = float(spec["low"]), float(spec["likely"]), float(spec["high"])
    dist = spec["distribution"]
    if dist == "beta":
        return _table_lookup(_posterior_table("beta", float(spec["a"]), float(spec["b"])), u)
    if dist == "gamma":
        return _table_lookup(_posterior_table("gamma", float(spec["shape"]), float(spec.get("scale", 1.0))), u)
    if high - low <= 1e-12 * max(abs(high), abs(low), 1.0):
        return np.full(u.shape, likely, dtype=np.float64)
    if dist == "pert":
        return _table_lookup(_pert_table(low, likely, high, float(spec.get("lambda", PERT_LAMBDA))), u)
    if dist == "triangular":
        c = (likely - low) / (high - low)
        span = high - low
        left = low + np.sqrt(u * span * (likely - low))
        right = high - np.sqrt((1.0 - u) * span * (high - likely))
        return np.where(u < c, left, right)
    if dist == "lognormal":
        if low <= 0:
            raise ValueError(f"lognormal input needs low > 0, got {low}")
        mu, sigma = lognormal_params(low, likely, high)
        return np.exp(mu + sigma * _special().ndtri(u))
    if dist == "uniform":
        return low + (high - low) * u
    raise ValueError(f"unknown distribution {dist!r}")


def cdf(spec: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Exact CDF of ``spec`` at ``x`` (used by tests and reports, not on the hot path)."""
    low, likely, high = float(spec["low"]), float(spec["likely"]), float(spec["high"])
    dist = spec["distribution"]
    sp = _special()
    if dist == "beta":
        return sp.betainc(float(spec["a"]), float(spec["b"]), np.clip(x, 0.0, 1.0))
    if dist == "gamma":
        return sp.gammainc(float(spec["shape"]), np.maximum(x, 0.0) / float(spec.get("scale", 1.0)))
    if dist == "pert":
        a, b = pert_params(low, likely, high, float(spec.get("lambda", PERT_LAMBDA)))
        return sp.betainc(a, b, np.clip((x - low) / (high - low), 0.0, 1.0))
    if dist == "triangular":
        x = np.clip(x, low, high)
        left = (x - low) ** 2 / ((high - low) * (likely - low)) if likely > low else np.zeros_like(x)
        right = 1.0 - (high - x) ** 2 / ((high - low) * (high - likely)) if high > likely else np.ones_like(x)
        return np.where(x < likely, left, right)
    if dist == "lognormal":
        mu, sigma = lognormal_params(low, likely, high)
        return sp.ndtr((np.log(x) - mu) / sigma)
    if dist == "uniform":
        return np.clip((x - low) / (high - low), 0.0, 1.0)
    raise ValueError(f"unknown distribution {dist!r}")


def correlation_matrix(names: list[str], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Target rank-correlation matrix, its Gaussian-copula equivalent and a PSD repair if one is needed.

    Pearson ρ = 2·sin(π·r_s/6) makes the copula reproduce the Spearman target exactly; an inconsistent
    user matrix is repaired by clipping negative eigenvalues and rescaling to a unit diagonal (reported).
    """
    idx = {n: i for i, n in enumerate(names)}
    d = len(names)
    target = np.eye(d)
    for p in pairs:
        if p["a"] in idx and p["b"] in idx and p["a"] != p["b"]:
            i, j = idx[p["a"]], idx[p["b"]]
            target[i, j] = target[j, i] = float(p["rank_corr"])
    rho = 2.0 * np.sin(np.pi * target / 6.0)
    np.fill_diagonal(rho, 1.0)
    w, v = np.linalg.eigh(rho)
    repaired = bool(w.min() < 1e-10)
    if repaired:
        fixed = (v * np.clip(w, 1e-8, None)) @ v.T
        scale = np.sqrt(np.diag(fixed))
        fixed = fixed / scale[:, None] / scale[None, :]
        max_change = float(np.abs(fixed - rho).max())
        rho = fixed
    else:
        max_change = 0.0
    return {
        "names": list(names),
        "target_rank": target.tolist(),
        "gaussian": rho.tolist(),
        "repaired": repaired,
        "repair_max_change": max_change,
    }


def lognormal_from_normal(spec: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """A lognormal input straight from its (correlated) standard normal, skipping the ndtr/ndtri round trip."""
    low, likely, high = float(spec["low"]), float(spec["likely"]), float(spec["high"])
    if high - low <= 1e-12 * max(abs(high), abs(low), 1.0):
        return np.full(z.shape, likely, dtype=np.float64)
    mu, sigma = lognormal_params(low, likely, high)
    return np.exp(mu + sigma * z)


def correlated_normals(u: np.ndarray, chol: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Gaussian-copula normals (n, len(active)) for the columns ``active`` of uniforms ``u``."""
    return _special().ndtri(u[:, active]) @ chol.T


def apply_copula(u: np.ndarray, gaussian: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Correlate the columns ``active`` of uniforms ``u`` (n, d) through a Gaussian copula.

    Only correlated columns pay for ``ndtri``/``ndtr``; independent ones pass through untouched, which keeps
    their Sobol stratification intact.
    """
    if active.size == 0:
        return u
    sp = _special()
    sub = gaussian[np.ix_(active, active)]
    chol = np.linalg.cholesky(sub)
    z = sp.ndtri(u[:, active]) @ chol.T
    out = u.copy()
    out[:, active] = sp.ndtr(z)
    return out
