"""The vectorised 36-month market model: Bass adoption per segment, MNL share, churn, pricing and cash."""

from __future__ import annotations

from typing import Any

import numpy as np

HORIZON = 36
NEVER = HORIZON + 1  # month code for "not reached within the horizon"
LTV_CAP_MONTHS = 60.0  # LTV counts at most five years of margin; longer lifetimes are not evidence at this stage
MIN_TERMINAL_DENOM = 0.005


def bass_cdf(p: Any, q: Any, t: Any) -> Any:
    """Closed-form Bass cumulative adoption F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t})."""
    e = np.exp(-(np.asarray(p) + np.asarray(q)) * np.asarray(t))
    return (1.0 - e) / (1.0 + (np.asarray(q) / np.asarray(p)) * e)


def mnl_shares(utilities: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Multinomial-logit shares over the last axis (include the outside option as one of the alternatives)."""
    z = scale * np.asarray(utilities, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def prepare_model(config: dict[str, Any]) -> dict[str, Any]:
    """Turn the JSON config's market block into the numpy constants the kernel needs (done once per run)."""
    seg = config["segments"]
    mnl = config["mnl"]
    ref = float(config["market"]["reference_price"])
    lam = float(mnl["scale"])
    beta = np.array([s["price_sensitivity"] for s in seg])
    comp_u = np.array([c["utility"] for c in config["competitors"]], dtype=np.float64)
    comp_p = np.array([c["price"] for c in config["competitors"]], dtype=np.float64)
    if comp_u.size:
        # Σ_j exp(λ(u_j − β_s ln(p_j/ref))) is fixed per segment; the sampled competitor shift factors out.
        comp_const = np.exp(lam * (comp_u[None, :] - beta[:, None] * np.log(comp_p[None, :] / ref))).sum(axis=1)
    else:
        comp_const = np.zeros(len(seg))
    return {
        "share": np.array([s["sam_share"] for s in seg])[:, None],
        "wtp_mid": np.array([s["wtp_median"] for s in seg])[:, None],
        "wtp_sigma": np.array([s["wtp_sigma"] for s in seg])[:, None],
        "p_mult": np.array([s["p_mult"] for s in seg])[:, None],
        "q_mult": np.array([s["q_mult"] for s in seg])[:, None],
        "churn_mult": np.array([s["churn_mult"] for s in seg])[:, None],
        "exp_mult": np.array([s["expansion_mult"] for s in seg])[:, None],
        "beta": beta[:, None],
        "comp_const": comp_const[:, None],
        "lam": lam,
        "outside": float(mnl["outside_utility"]),
        "ref": ref,
        "sam_accounts": float(config["market"]["sam_accounts"]),
        "som_arr": float(config["market"]["som_target_arr"]),
        "init_customers": float(config["market"].get("initial_customers", 0.0)),
        "init_mrr": float(config["market"].get("initial_mrr", 0.0)),
    }


def _ndtr(x: np.ndarray) -> np.ndarray:
    import scipy.special

    return scipy.special.ndtr(x)


def simulate(x: dict[str, np.ndarray], shocks: np.ndarray, model: dict[str, Any], scenario: dict[str, Any],
             *, keep_monthly: bool = False) -> dict[str, np.ndarray]:
    """Run the monthly model for one block of paths.

    ``x`` maps input names to arrays of shape (n,), ``shocks`` is (HORIZON, n) standard normal, ``scenario``
    carries multipliers and monthly profiles. Returns per-path outputs (and monthly (HORIZON, n) series if asked).
    Adoption follows the closed-form Bass curve on a stochastic clock: each month advances the clock by a
    mean-one lognormal step, so with zero volatility the curve is exactly F(t).
    """
    n = shocks.shape[1]
    sc = scenario
    price = x["price"] * sc.get("price_mult", 1.0)
    cac = x["cac"] * sc.get("cac_mult", 1.0)
    gm = x["gross_margin"]
    opex = x["opex"] * sc.get("opex_mult", 1.0)
    r_m = (1.0 + x["discount_rate"]) ** (1.0 / 12.0) - 1.0
    lam, beta = model["lam"], model["beta"]

    accounts = model["sam_accounts"] * model["share"] * (x["market_size"] * sc.get("market_mult", 1.0))
    wtp_med = model["wtp_mid"] * (x["wtp_level"] * sc.get("wtp_mult", 1.0))
    acceptance = _ndtr((np.log(wtp_med) - np.log(price)) / model["wtp_sigma"])
    price_term = beta * np.log(price / model["ref"])
    own = np.exp(lam * (x["product_advantage"] - price_term))
    comp_shift = np.exp(lam * (x["competitor_strength"] + sc.get("competitor_shift", 0.0)))
    comp = model["comp_const"] * comp_shift
    outside = np.exp(lam * model["outside"])
    share = own / (outside + own + comp)
    ceiling = accounts * acceptance * share

    entrant = sc.get("entrant")
    entry_month = NEVER
    if entrant:
        entry_month = int(entrant["month"])
        extra = np.exp(lam * (entrant["utility"] + x["competitor_strength"]
                              - beta * np.log(price * entrant["price_ratio"] / model["ref"])))
        ceiling_after = accounts * acceptance * own / (outside + own + comp + extra)

    p = x["bass_p"] * model["p_mult"] * sc.get("p_mult", 1.0)
    q = x["bass_q"] * model["q_mult"] * sc.get("q_mult", 1.0)
    a = p + q
    ratio = q / p
    churn = np.minimum(x["churn"] * model["churn_mult"] * sc.get("churn_mult", 1.0), 0.95)
    growth = 1.0 + x["expansion"] * model["exp_mult"]
    vol = x["shock_volatility"]
    clock_profile = sc.get("clock_profile")
    churn_profile = sc.get("churn_profile")

    init_c = model["init_customers"] * model["share"]
    customers = np.broadcast_to(init_c, ceiling.shape).copy()
    mrr = np.broadcast_to(model["init_mrr"] * model["share"], ceiling.shape).copy()
    neg_a = -a
    keep = 1.0 - churn
    keep_growth = keep * growth
    # ceiling·F(τ) = A/(1 + r·e) − B with e = exp(−(p+q)τ), A = ceiling(1+r)/r, B = ceiling/r: 5 array ops a month.
    scale_a = ceiling * (1.0 + ratio) / ratio
    scale_b = ceiling / ratio
    if entrant:
        scale_a_after = ceiling_after * (1.0 + ratio) / ratio
        scale_b_after = ceiling_after / ratio
    # Everything below works month by month on cache-sized vectors written into preallocated buffers:
    # whole-horizon (36 x n) temporaries cost more in page faults than in arithmetic.
    adopted = np.zeros_like(ceiling)
    e = np.empty_like(ceiling)
    target = np.empty_like(ceiling)
    new = np.empty_like(ceiling)
    tmp = np.empty_like(ceiling)
    keep_m = keep_monthly
    revenue_m = np.empty((HORIZON, n)) if keep_m else None
    customers_m = np.empty((HORIZON, n)) if keep_m else None
    cash_m = np.empty((HORIZON, n)) if keep_m else None
    tau = np.zeros(n)
    step = np.empty(n)
    revenue = np.empty(n)
    new_total = np.empty(n)
    flow = np.empty(n)
    vtmp = np.empty(n)
    upfront = x["upfront_cost"]
    cash = -upfront.astype(np.float64)
    npv = cash.copy()
    trough = cash.copy()
    disc = np.ones(n)
    step_disc = 1.0 / (1.0 + r_m)
    half_var = -0.5 * vol * vol
    breakeven = np.full(n, float(NEVER))
    payback = np.full(n, float(NEVER))
    revenue_year = np.zeros((3, n))
    opex_b = np.broadcast_to(opex, (n,))

    for t in range(HORIZON):
        np.multiply(vol, shocks[t], out=step)
        step += half_var
        np.exp(step, out=step)
        if clock_profile is not None:
            step *= clock_profile[t]
        tau += step
        np.multiply(neg_a, tau, out=e)
        np.exp(e, out=e)
        e *= ratio
        e += 1.0
        after = entrant and t + 1 >= entry_month
        np.divide(scale_a_after if after else scale_a, e, out=target)
        target -= scale_b_after if after else scale_b
        np.subtract(target, adopted, out=new)
        if entrant:
            # A shrinking ceiling (an entrant) must not un-adopt anyone.
            np.maximum(new, 0.0, out=new)
            adopted += new
        else:
            adopted, target = target, adopted
        if churn_profile is not None:
            keep = 1.0 - np.minimum(churn * churn_profile[t], 0.95)
            keep_growth = keep * growth
        customers *= keep
        customers += new
        mrr *= keep_growth
        np.multiply(new, price, out=tmp)
        mrr += tmp
        mrr.sum(axis=0, out=revenue)
        new.sum(axis=0, out=new_total)
        np.multiply(revenue, gm, out=flow)
        np.multiply(new_total, cac, out=vtmp)
        flow -= vtmp
        flow -= opex_b
        cash += flow
        disc *= step_disc
        np.multiply(flow, disc, out=vtmp)
        npv += vtmp
        np.minimum(trough, cash, out=trough)
        month = float(t + 1)
        np.copyto(breakeven, month, where=(flow > 0) & (breakeven > month))
        np.copyto(payback, month, where=(cash >= 0) & (payback > month))
        revenue_year[t // 12] += revenue
        if keep_m:
            revenue_m[t] = revenue
            customers.sum(axis=0, out=customers_m[t])
            cash_m[t] = cash
    monthly = {"revenue": revenue_m, "customers": customers_m, "cash": cash_m} if keep_m else None

    # Terminal value: the installed base's remaining gross margin (no new sales, no further opex), discounted.
    denom = np.maximum(churn - (growth - 1.0) + r_m, MIN_TERMINAL_DENOM)
    terminal = (mrr * gm / denom).sum(axis=0)
    npv = npv + terminal * disc
    weights = ceiling / np.maximum(ceiling.sum(axis=0), 1e-300)
    churn_w = (churn * weights).sum(axis=0)
    exp_w = ((growth - 1.0) * weights).sum(axis=0)
    lifetime = np.minimum(1.0 / np.maximum(churn_w - exp_w, 1.0 / LTV_CAP_MONTHS), LTV_CAP_MONTHS)
    margin = price * gm
    funding = np.maximum(-trough, 0.0)
    arr36 = 12.0 * revenue
    out = {
        "npv": npv,
        "revenue_y1": revenue_year[0],
        "revenue_y2": revenue_year[1],
        "revenue_y3": revenue_year[2],
        "arr_36": arr36,
        "customers_36": customers.sum(axis=0),
        "funding_need": funding,
        "cash_36": cash,
        "breakeven_month": breakeven,
        "payback_month": payback,
        "roi": npv / np.maximum(funding, np.maximum(x["upfront_cost"], 1.0)),
        "ltv_cac": margin * lifetime / cac,
        "cac_payback_months": cac / np.maximum(margin, 1e-9),
        "acceptance": (acceptance * model["share"]).sum(axis=0),
        "market_share": (share * model["share"]).sum(axis=0),
        "ceiling_accounts": ceiling.sum(axis=0),
        "adopted_36": adopted.sum(axis=0),
        "reach_som": (arr36 >= model["som_arr"]).astype(np.float64),
    }
    if monthly is not None:
        out["monthly"] = monthly
    return out
