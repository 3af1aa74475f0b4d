"""Bayesian updates of the benchmark priors by the client's evidence (pure functions, JSON in and out).

Each function takes a prior input spec (``{distribution, low, likely, high, ...}``) and evidence, and returns the
posterior spec the simulation draws from, keeping the prior beside it so reports can show both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Jeffreys prior on a Poisson mean: with N customers observed, the expected count is Gamma(N + 1/2, 1).
JEFFREYS_SHAPE = 0.5
#: A monthly churn rate is a fraction; the Beta posterior lives on [0, 1].
CHURN_BOUNDS = (0.0, 1.0)


def _special() -> Any:
    # scipy.special costs ~0.4 s to import; load it on first use, not when smvm is imported.
    import scipy.special

    return scipy.special


def pert_moments(spec: dict[str, Any]) -> tuple[float, float]:
    """Mean and standard deviation of a PERT/triangular-like spec by the classic three-point rule."""
    low, likely, high = float(spec["low"]), float(spec["likely"]), float(spec["high"])
    return (low + 4.0 * likely + high) / 6.0, max((high - low) / 6.0, 1e-9)


def beta_from_moments(mean: float, sd: float) -> tuple[float, float]:
    """Beta(a, b) on [0, 1] with the given mean and standard deviation (the sd is capped to keep a, b > 0)."""
    mean = min(max(mean, 1e-6), 1 - 1e-6)
    var = min(sd * sd, 0.9 * mean * (1 - mean))
    common = mean * (1 - mean) / var - 1.0
    return mean * common, (1 - mean) * common


def beta_spec(a: float, b: float, *, unit: str, source: str) -> dict[str, Any]:
    """A ``beta`` input spec on [0, 1] with its P10 / median / P90 as low / likely / high for display."""
    sp = _special()
    q = sp.betaincinv(a, b, np.array([0.1, 0.5, 0.9]))
    return {"distribution": "beta", "a": float(a), "b": float(b), "low": float(q[0]), "likely": float(q[1]),
            "high": float(q[2]), "unit": unit, "source": source}


def churn_observations(retention: dict[str, Any]) -> tuple[float, float, str]:
    """(churned, customer-months at risk, description) from a retention record.

    A monthly rate over ``customers`` and ``months`` is ``customers × months`` customer-months at that rate; a
    cohort curve's last point gives the churned share of the cohort over the customer-months it survived
    (a straight line between 1 and the last retention, the trapezoid rule).
    """
    if retention.get("monthly_churn") is not None:
        at_risk = float(retention["customers"]) * float(retention["months"])
        churned = float(retention["monthly_churn"]) * at_risk
        text = (f"observed {retention['monthly_churn']:.1%} monthly churn over {retention['customers']:,} customers "
                f"and {retention['months']} months")
        return churned, at_risk, text
    last = max(retention["cohort"], key=lambda point: point["month"])
    size = float(retention["cohort_size"])
    churned = size * (1.0 - float(last["retained"]))
    at_risk = size * float(last["month"]) * (1.0 + float(last["retained"])) / 2.0
    text = (f"a cohort of {retention['cohort_size']:,} customers with {last['retained']:.0%} still active after "
            f"{last['month']} months")
    return churned, at_risk, text


def churn_posterior(prior: dict[str, Any], retention: dict[str, Any]) -> dict[str, Any]:
    """Beta–binomial update of the monthly churn rate: the prior as Beta by its moments, then the observed
    churned customers out of the customer-months at risk."""
    mean, sd = pert_moments(prior)
    a0, b0 = beta_from_moments(mean, sd)
    churned, at_risk, text = churn_observations(retention)
    spec = beta_spec(a0 + churned, b0 + max(at_risk - churned, 0.0), unit=prior["unit"],
                     source=f"Client retention: {text}; Beta–binomial update of the domain benchmark")
    spec["observations"] = {"churned": churned, "customer_months": at_risk}
    return spec


def traction_spec(traction: dict[str, Any], prior: dict[str, Any]) -> dict[str, Any]:
    """The adoption input once paying customers are known.

    With N customers after T months on sale, the expected number of active customers at T is Gamma(N + 1/2, 1)
    (Poisson counts, Jeffreys prior). The simulation draws that expected count and solves, per path, the Bass
    innovation rate p that brings the path's own reachable market to it in T months, so p follows the evidence and
    its dependence on the market size is kept. q keeps its prior: one count cannot tell imitation from innovation.
    """
    n, months = int(traction["customers"]), int(traction["months"])
    shape = n + JEFFREYS_SHAPE
    q = _special().gammaincinv(shape, np.array([0.1, 0.5, 0.9]))
    return {"distribution": "gamma", "shape": float(shape), "scale": 1.0,
            "low": float(q[0]), "likely": float(q[1]), "high": float(q[2]),
            "unit": "expected active customers at the start", "months": months, "customers": n,
            "source": (f"Client traction: {n:,} paying customers after {months} months; Gamma–Poisson posterior "
                       "of the expected count (Jeffreys prior), Bass p solved per path to reproduce it"),
            "prior": {k: prior[k] for k in ("distribution", "low", "likely", "high", "unit", "source")}}


def van_westendorp(survey: list[dict[str, float]]) -> dict[str, Any]:
    """Price-sensitivity meter (Van Westendorp 1976): the four curves' crossings and the respondents' WTP spread."""
    arr = {k: np.array([r[k] for r in survey], dtype=float) for k in ("too_cheap", "cheap", "expensive", "too_expensive")}
    grid = np.unique(np.concatenate(list(arr.values())))
    grid = grid[grid > 0] if np.any(grid > 0) else grid
    n = len(survey)
    too_cheap = np.array([(arr["too_cheap"] >= p).sum() for p in grid]) / n
    cheap = np.array([(arr["cheap"] >= p).sum() for p in grid]) / n
    expensive = np.array([(arr["expensive"] <= p).sum() for p in grid]) / n
    too_exp = np.array([(arr["too_expensive"] <= p).sum() for p in grid]) / n

    def cross(falling: np.ndarray, rising: np.ndarray) -> float:
        idx = int(np.argmax(rising >= falling)) if np.any(rising >= falling) else len(grid) - 1
        return float(grid[idx])

    # A respondent's WTP sits between "expensive" and "too expensive"; the geometric mean is scale-free.
    wtp = np.sqrt(arr["expensive"] * arr["too_expensive"])
    return {
        "respondents": n,
        "pmc": cross(too_cheap, expensive),
        "pme": cross(cheap, too_exp),
        "opp": cross(too_cheap, too_exp),
        "ipp": cross(cheap, expensive),
        "too_expensive_p50": float(np.median(arr["too_expensive"])),
        "wtp_p10": float(np.percentile(wtp, 10)),
        "wtp_p50": float(np.percentile(wtp, 50)),
        "wtp_p90": float(np.percentile(wtp, 90)),
    }


def survey_price_range(vw: dict[str, Any]) -> tuple[float, float, float]:
    """(low, likely, high) acceptable price from a survey: PMC..PME with the OPP/IPP midpoint inside it."""
    lo, hi = min(vw["pmc"], vw["pme"]), max(vw["pmc"], vw["pme"])
    mid = min(max((vw["opp"] + vw["ipp"]) / 2.0, lo), hi)
    if hi - lo < 1e-9 * max(hi, 1.0):
        lo, hi = mid * 0.9, mid * 1.1
    return lo, mid, hi


def blended_cac(evidence: dict[str, Any]) -> tuple[float, str] | None:
    """The client's CAC: channels blended by their share of new customers, or the single CAC figure."""
    channels = evidence.get("channels")
    if channels:
        weight = sum(c["share"] for c in channels)
        # Shares of new customers weight the blend; with none given, every channel counts the same.
        value = (sum(c["cac"] * c["share"] for c in channels) / weight if weight > 0
                 else float(np.mean([c["cac"] for c in channels])))
        return value, f"blended CAC over {len(channels)} channel(s)"
    if evidence.get("cac"):
        return float(evidence["cac"]), "client CAC figure"
    return None
