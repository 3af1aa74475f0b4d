"""The vectorised 36-month market model: Bass adoption per segment, MNL share, churn, pricing and cash."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

HORIZON = 36
NEVER = HORIZON + 1  # month code for "not reached within the horizon"
LTV_CAP_MONTHS = 60.0  # LTV counts at most five years of margin; longer lifetimes are not evidence at this stage
MIN_TERMINAL_DENOM = 0.005
_MONTHS = np.arange(1, HORIZON + 1, dtype=np.float64)


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
    """Turn the JSON config's market block into the numpy constants the kernel needs (done once per run).

    Persona traits and the competitor fit vary by synthetic landscape: they are tables with one column per
    landscape (segments × landscapes, or landscapes), and every path picks its column from its ``landscape`` draw.
    """
    seg = config["segments"]
    land = config["landscapes"]
    persona = {k: np.asarray(v, dtype=np.float64) for k, v in land["persona"].items()}
    competitor = {k: np.asarray(v, dtype=np.float64) for k, v in land["competitor"].items()}
    wtp_mid = np.array([s["wtp_median"] for s in seg])[:, None] * persona["wtp_mult"]
    market = config["market"]
    return {
        "landscapes": int(land["count"]),
        "share": persona["sam_share"],
        "log_wtp_mid": np.log(wtp_mid),
        "inv_wtp_sigma": 1.0 / np.array([s["wtp_sigma"] for s in seg])[:, None],
        "p_mult": np.array([s["p_mult"] for s in seg])[:, None] * persona["p_mult"],
        "q_mult": np.array([s["q_mult"] for s in seg])[:, None] * persona["q_mult"],
        "churn_mult": np.array([s["churn_mult"] for s in seg])[:, None] * persona["churn_mult"],
        "exp_mult": np.array([s["expansion_mult"] for s in seg])[:, None],
        "beta": np.array([s["price_sensitivity"] for s in seg])[:, None] * persona["beta_mult"],
        "log_base": competitor["log_base"],
        "comp_const": competitor["comp_const"],
        "log_ref": np.log(competitor["reference_price"]),
        "lam": float(config["mnl"]["scale"]),
        "outside_exp": math.exp(float(config["mnl"]["scale"]) * float(config["mnl"]["outside_utility"])),
        "sam_accounts": float(market["sam_accounts"]),
        "som_arr": float(market["som_target_arr"]),
        "init_customers": float(market.get("initial_customers", 0.0)),
        "init_mrr": float(market.get("initial_mrr", 0.0)),
        "traction_months": float(market.get("traction_months", 0.0)),
        "launch_delay": float(market.get("launch_delay_months", 0.0)),
        "observation_months": int(market.get("observation_months", 1)),
    }


def focus_segment(model: dict[str, Any], index: int, adoption_boost: float = 1.5) -> dict[str, Any]:
    """The model of a plan that sells to one segment only: the others' accounts drop out, and the chosen one's
    adoption speeds up by ``adoption_boost`` (all the spend goes to it)."""
    out = dict(model)
    mask = np.zeros((model["share"].shape[0], 1))
    mask[index] = 1.0
    out["share"] = model["share"] * mask
    out["p_mult"] = model["p_mult"] * np.where(mask > 0, adoption_boost, 1.0)
    return out


def landscape_index(u: np.ndarray, count: int) -> np.ndarray:
    """The landscape each path draws, from its uniform."""
    idx = (np.asarray(u) * count).astype(np.intp)
    np.clip(idx, 0, count - 1, out=idx)
    return idx


#: Bounds of the Bass innovation rate solved from traction (per month): below the first, nobody ever buys; the
#: second is an already saturated market.
P_SOLVE_BOUNDS = (1e-9, 1.0)
_SOLVE_STEPS = 10


def solve_bass_p(ceiling: np.ndarray, p_mult: np.ndarray, q: np.ndarray, months: float,
                 target: np.ndarray) -> np.ndarray:
    """Per path, the innovation rate p with Σ_s ceiling_s · F(months; p·p_mult_s, q_s) = target (adopters so far).

    The root is bracketed in closed form: since dF/dt = (p + qF)(1 − F) is at most p + qF, F(t) ≤ (p/q)(e^{qt} − 1),
    which gives a p whose adopters are at most the target; and F(t) ≥ 1 − e^{−pt} (no imitation) gives one whose
    adopters are at least it. A secant on ln p inside that bracket (Illinois
    variant: the end that stays put twice has its weight halved) then converges in a few steps. A target the
    reachable market cannot hold saturates at the upper bound.
    """
    t = months
    total = ceiling.sum(axis=0)
    saturated = target >= total
    share = np.minimum(target / np.maximum(total, 1e-300), 1.0 - 1e-12)
    # Upper end: no imitation, every segment at the slowest segment's innovation multiplier.
    slowest = np.where(ceiling > 0, p_mult, np.inf).min(axis=0)
    hi = np.log(np.clip(-np.log1p(-share) / (np.minimum(slowest, 1e300) * t), P_SOLVE_BOUNDS[0], P_SOLVE_BOUNDS[1]))
    # Lower end: imitation without saturation.
    growth = np.where(q * t > 1e-9, np.expm1(q * t) / np.maximum(q, 1e-300), t)
    lo = np.log(np.clip(target / np.maximum((ceiling * p_mult * growth).sum(axis=0), 1e-300),
                        P_SOLVE_BOUNDS[0], P_SOLVE_BOUNDS[1]))
    lo = np.minimum(lo, hi)

    # The closed form, Σ_s ceiling_s (1 − e_s) / (1 + (q_s/p_s) e_s), in two reused buffers: the solve evaluates
    # it a dozen times per block, and fresh (segments × paths) temporaries would cost more than the arithmetic.
    p_buf = thread_scratch("solve_p", ceiling.shape)
    e_buf = thread_scratch("solve_e", ceiling.shape)

    def gap(log_p: np.ndarray) -> np.ndarray:
        p, e = p_buf, e_buf
        np.multiply(p_mult, np.exp(log_p), out=p)
        np.add(p, q, out=e)
        np.multiply(e, -t, out=e)
        np.exp(e, out=e)
        np.divide(q, p, out=p)
        np.multiply(p, e, out=p)
        np.add(p, 1.0, out=p)
        np.subtract(1.0, e, out=e)
        np.divide(e, p, out=e)
        np.multiply(e, ceiling, out=e)
        return e.sum(axis=0) - target

    f_lo, f_hi = gap(lo), gap(hi)
    side = np.zeros(target.shape, dtype=np.int8)
    for _ in range(_SOLVE_STEPS):
        width = f_hi - f_lo
        mid = np.where(width > 0, (lo * f_hi - hi * f_lo) / np.where(width > 0, width, 1.0), 0.5 * (lo + hi))
        # Where the bracket does not hold the root (the floor already overshoots, or the market saturates first),
        # the secant would extrapolate: stay at the bracket's end instead.
        np.clip(mid, lo, hi, out=mid)
        f_mid = gap(mid)
        up = f_mid < 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
        f_lo = np.where(up, f_mid, np.where(side == -1, f_lo * 0.5, f_lo))
        f_hi = np.where(up, np.where(side == 1, f_hi * 0.5, f_hi), f_mid)
        side = np.where(up, 1, -1).astype(np.int8)
    width = f_hi - f_lo
    out = np.exp(np.clip(np.where(width > 0, (lo * f_hi - hi * f_lo) / np.where(width > 0, width, 1.0),
                                  0.5 * (lo + hi)), lo, hi))
    out[saturated] = P_SOLVE_BOUNDS[1]
    return out


def _ndtr(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    import scipy.special

    return scipy.special.ndtr(x, out=out)


BLOCK = 8192  # paths per kernel block (one chunk): a sweep of 1,024-8,192 was fastest at 8,192
#: The per-path outputs a run keeps for every path (the kernel returns a few more, used within a block).
OUTPUTS = ("npv", "revenue_y1", "revenue_y2", "revenue_y3", "arr_36", "customers_36", "funding_need", "cash_36",
           "breakeven_month", "payback_month", "roi", "ltv_cac", "cac_payback_months", "acceptance",
           "market_share", "ceiling_accounts", "unit_contribution", "steady_profit", "opex_monthly",
           "breakeven_arr", "upfront", "innovation_rate", "acquisition_y1", "acquisition_y2", "acquisition_y3", "cash_y1", "cash_y2",
           *("obs_" + name for name in ("customers", "new_customers", "churned", "mrr", "acquisition_spend")))
#: What a client can observe in its first months on the market (``market.observation_months``, default 1: the
#: contract's T0+30), per path: the prior predictive distribution SMVM later scores real observations against.
OBSERVABLES = ("customers", "new_customers", "churned", "mrr", "acquisition_spend")


def chunk_sizes(total: int, chunk: int) -> list[int]:
    """``total`` paths as full chunks of ``chunk`` paths and one remainder."""
    sizes = [chunk] * (total // chunk)
    if total % chunk:
        sizes.append(total % chunk)
    return sizes


def simulate(x: dict[str, np.ndarray], shocks: np.ndarray, model: dict[str, Any], scenario: dict[str, Any],
             *, keep_monthly: bool = False, npv_only: bool = False, block: int = BLOCK) -> dict[str, np.ndarray]:
    """Run the monthly model for one block of paths.

    ``x`` maps input names to arrays of shape (n,), ``shocks`` is (HORIZON, n) standard normal, ``scenario``
    carries multipliers and monthly profiles. Returns per-path outputs (and monthly (HORIZON, n) series if asked).
    Adoption follows the closed-form Bass curve on a stochastic clock: each month advances the clock by a
    mean-one lognormal step, so with zero volatility the curve is exactly F(t).

    Every output is a per-path function of that path's inputs and shocks, so the paths are processed in
    cache-sized blocks of ``block`` paths; the block size never changes a result. ``npv_only`` returns just
    ``{"npv": ...}`` (the same values) and skips the cash path, break-even and the other outputs (Sobol, tornado).
    """
    n = shocks.shape[1]
    if n <= block:
        return _simulate_block(x, shocks, model, scenario, keep_monthly, npv_only)
    out: dict[str, Any] = {}
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        part = _simulate_block({k: v[lo:hi] for k, v in x.items()}, shocks[:, lo:hi], model, scenario, keep_monthly,
                               npv_only)
        if not out:
            out = {k: np.empty(n) for k in part if k != "monthly"}
            if keep_monthly:
                out["monthly"] = {k: np.empty((HORIZON, n)) for k in part["monthly"]}
        for k, v in part.items():
            if k == "monthly":
                for mk, mv in v.items():
                    out["monthly"][mk][:, lo:hi] = mv
            else:
                out[k][lo:hi] = v
    return out


_LOCAL = threading.local()


def thread_scratch(name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """A per-thread scratch array reused across blocks and runs: fresh multi-MB arrays cost more in page faults
    than the arithmetic done on them. Valid until this thread asks for the same name again.

    Each name keeps one flat array as large as the largest request and hands out a C-contiguous view of its
    prefix, so a thread alternating between chunk, Sobol-span and scenario sizes does not reallocate."""
    cache = _LOCAL.__dict__.setdefault("bufs", {})
    key = (name, np.dtype(dtype).char)
    size = math.prod(shape)
    arr = cache.get(key)
    if arr is None or arr.size < size:
        arr = cache[key] = np.empty(size, dtype=dtype)
    return arr[:size].reshape(shape)


def _first_month(hit: np.ndarray) -> np.ndarray:
    """Per path, the first month (1-based) whose row of ``hit`` (months x paths) is true, NEVER if none.

    ``hit`` becomes "true in this month or before" (a row-wise running OR, in place); the first month is then
    NEVER minus the number of such months. 7x cheaper than a masked copy per month (36 x 8,192: 0.3 vs 2 ms).
    """
    for t in range(1, hit.shape[0]):
        np.logical_or(hit[t], hit[t - 1], out=hit[t])
    return float(NEVER) - np.add.reduce(hit.view(np.uint8), axis=0, dtype=np.int32)


def _terminal(units_seg: np.ndarray, price: np.ndarray, gm: np.ndarray, churn: np.ndarray, growth: np.ndarray,
              r_m: np.ndarray, seg_buf: Any) -> np.ndarray:
    """Terminal value at month 36: the installed base's remaining gross margin (no new sales, no further opex),
    Σ_s MRR_s·GM ÷ max(churn_s − expansion_s + r, floor), not yet discounted."""
    mrr = np.multiply(units_seg, price, out=seg_buf("tail1"))
    denom = np.subtract(growth, 1.0, out=seg_buf("tail2"))
    np.subtract(churn, denom, out=denom)
    denom += r_m
    np.maximum(denom, MIN_TERMINAL_DENOM, out=denom)
    mrr *= gm
    mrr /= denom
    return mrr.sum(axis=0)


def _simulate_block(x: dict[str, np.ndarray], shocks: np.ndarray, model: dict[str, Any], sc: dict[str, Any],
                    keep_monthly: bool, npv_only: bool = False) -> dict[str, np.ndarray]:
    n = shocks.shape[1]
    price = x["price"] * sc.get("price_mult", 1.0)
    cac = x["cac"] * sc.get("cac_mult", 1.0)
    gm = x["gross_margin"]
    opex = x["opex"] * sc.get("opex_mult", 1.0)
    r_m = (1.0 + x["discount_rate"]) ** (1.0 / 12.0) - 1.0
    lam = model["lam"]

    # --- per (segment, path) constants, in per-thread buffers (fresh (segments, n) arrays page-fault) -------
    segs = model["share"].shape[0]

    def seg_buf(name: str) -> np.ndarray:
        return thread_scratch(name, (segs, n))

    # Each path's synthetic landscape: its columns of the persona tables and of the competitor fit.
    land = landscape_index(x["landscape"], model["landscapes"])
    share_seg = np.take(model["share"], land, axis=1, out=seg_buf("share_seg"))
    beta = np.take(model["beta"], land, axis=1, out=seg_buf("beta"))
    accounts = np.multiply(share_seg, model["sam_accounts"], out=seg_buf("accounts"))
    accounts *= x["market_size"] * sc.get("market_mult", 1.0)
    log_price = np.log(price)
    z_acc = np.log(x["wtp_level"] * sc.get("wtp_mult", 1.0))
    z_acc -= log_price
    z_acc = np.add(z_acc, np.take(model["log_wtp_mid"], land, axis=1, out=seg_buf("acceptance")), out=seg_buf("acceptance"))
    z_acc *= model["inv_wtp_sigma"]
    acceptance = _ndtr(z_acc, out=z_acc)
    # Our utility: a typical competitor's (the landscape's fitted base) plus our advantage, less our price's
    # penalty against the share-weighted competitor price.
    price_term = np.multiply(beta, log_price - model["log_ref"][land], out=seg_buf("own"))
    own = np.subtract(x["product_advantage"] + model["log_base"][land], price_term, out=price_term)
    if lam != 1.0:
        own *= lam
    own = np.exp(own, out=own)
    comp_shift = model["comp_const"][land] * np.exp(lam * (x["competitor_strength"] + sc.get("competitor_shift", 0.0)))
    denom_share = np.add(own, comp_shift, out=seg_buf("denom_share"))
    denom_share += model["outside_exp"]
    share = np.divide(own, denom_share, out=seg_buf("share"))
    ceiling = np.multiply(accounts, acceptance, out=seg_buf("ceiling"))
    ceiling *= share

    entrant = sc.get("entrant")
    entry_month = NEVER
    if entrant:
        entry_month = int(entrant["month"])
        extra = np.exp(lam * (entrant["utility"] + model["log_base"][land] + x["competitor_strength"]
                              - beta * (np.log(price * entrant["price_ratio"]) - model["log_ref"][land])))
        ceiling_after = accounts * acceptance * own / (denom_share + extra)

    churn = np.take(model["churn_mult"], land, axis=1, out=seg_buf("churn"))
    churn *= x["churn"]
    if sc.get("churn_mult", 1.0) != 1.0:
        churn *= sc["churn_mult"]
    np.minimum(churn, 0.95, out=churn)
    weights = np.divide(ceiling, np.maximum(ceiling.sum(axis=0), 1e-300), out=seg_buf("weights"))
    churn_eff = np.multiply(churn, weights, out=seg_buf("tail2")).sum(axis=0)

    p_mult = np.take(model["p_mult"], land, axis=1, out=seg_buf("p_mult"))
    q = np.take(model["q_mult"], land, axis=1, out=seg_buf("q"))
    q *= x["bass_q"]
    if sc.get("q_mult", 1.0) != 1.0:
        q *= sc["q_mult"]
    months_in = model["traction_months"]
    if months_in > 0:
        # x["bass_p"] is the expected number of active customers now (see smvm.market.evidence.traction_spec):
        # the adopters so far are that over the average survival since launch, and p is what brings this path's
        # own reachable market there in the months on sale.
        survival = np.where(churn_eff > 0, (1.0 - (1.0 - churn_eff) ** months_in) / np.maximum(churn_eff * months_in,
                                                                                               1e-12), 1.0)
        p_path = solve_bass_p(ceiling, p_mult, q, months_in, x["bass_p"] / survival)
    else:
        p_path = x["bass_p"]
    p = np.multiply(p_mult, p_path, out=p_mult)
    if sc.get("p_mult", 1.0) != 1.0:
        p *= sc["p_mult"]
    neg_a = np.add(p, q, out=seg_buf("neg_a"))
    np.negative(neg_a, out=neg_a)
    # ceiling·F(τ) = A/(1 + r·e) − B with r = q/p, e = exp(−(p+q)τ), A = ceiling(1+r)/r, B = ceiling/r.
    # Written G(τ) = A·c/(c + e) with c = 1/r = p/q, so a month costs mul, exp, add, divide; new adopters are
    # G(τ_t) − G(τ_{t−1}) and B cancels (G(0) = B).
    c = np.divide(p, q, out=p)
    scale_b = np.multiply(ceiling, c, out=seg_buf("scale_b"))      # B = ceiling/r
    scale_ac = np.add(1.0, c, out=q)            # A·c = ceiling·(1+r)·c² = ceiling·(1+c)·c, since (1+r)·c = c + 1
    scale_ac *= c
    scale_ac *= ceiling
    if entrant:
        scale_b_after = ceiling_after * c
        scale_ac_after = (1.0 + c) * c * ceiling_after
    growth = np.multiply(x["expansion"], model["exp_mult"], out=seg_buf("growth"))
    growth += 1.0
    vol = x["shock_volatility"]
    clock_profile = sc.get("clock_profile")
    churn_profile = sc.get("churn_profile")
    delay = model["launch_delay"]

    # state[0] = new adopters, state[1] = MRR ÷ price (price is per path, so it factors out), state[2] = customers
    state = thread_scratch("state", (3, segs, n))
    np.multiply(share_seg, model["init_mrr"] / price, out=state[1])
    np.multiply(share_seg, model["init_customers"], out=state[2])
    mult = thread_scratch("mult", (2, segs, n))
    np.subtract(1.0, churn, out=mult[1])
    np.multiply(mult[1], growth, out=mult[0])

    g = thread_scratch("g", ceiling.shape)                # e = exp(−(p+q)τ), then G(τ) in place
    g_prev = thread_scratch("g_prev", ceiling.shape)
    tau = np.full(n, months_in)
    if months_in > 0:
        # The clock starts where the traction left it: G at the months already on sale.
        np.multiply(neg_a, months_in, out=g_prev)
        np.exp(g_prev, out=g_prev)
        g_prev += c
        np.divide(scale_ac, g_prev, out=g_prev)
    else:
        np.copyto(g_prev, scale_b)
    g_start = g_prev.copy() if not entrant else None
    new = state[0]
    if entrant:
        adopted = np.zeros_like(ceiling)
    # Month-by-month on cache-sized vectors written into per-thread buffers: whole-horizon (36 x n) temporaries
    # cost more in cache misses and page faults than the arithmetic.
    flow_m = thread_scratch("flow_m", (HORIZON, n))       # operating cash flow per month (kept for the break-even month)
    cash_m = np.empty((HORIZON, n)) if keep_monthly else thread_scratch("cash_m", (HORIZON, n))
    revenue_m = np.empty((HORIZON, n)) if keep_monthly else None
    customers_m = np.empty((HORIZON, n)) if keep_monthly else None
    step = np.empty(n)
    units = np.empty(n)                         # Σ_s MRR_s ÷ price
    new_total = np.empty(n)
    vtmp = np.empty(n)
    upfront = x["upfront_cost"]
    npv = np.negative(upfront)
    disc = np.ones(n)
    step_disc = 1.0 / (1.0 + r_m)
    half_var = -0.5 * vol * vol
    pg = price * gm
    units_year = np.zeros((3, n))
    new_year = np.zeros((3, n))
    window = int(model.get("observation_months", 1))
    observed: dict[str, np.ndarray] = {}
    cash = np.negative(upfront)                 # before month 1
    for t in range(HORIZON):
        np.multiply(vol, shocks[t], out=step)
        step += half_var
        np.exp(step, out=step)
        if clock_profile is not None:
            step *= clock_profile[t]
        if t < delay:
            # Still building (or awaiting approval): the adoption clock has not started this month.
            step *= max(0.0, t + 1.0 - delay)
        tau += step
        np.multiply(neg_a, tau, out=g)
        np.exp(g, out=g)
        g += c
        if entrant:
            after = t + 1 >= entry_month
            np.divide(scale_ac_after if after else scale_ac, g, out=g)
            g -= scale_b_after if after else scale_b
            np.subtract(g, adopted, out=new)
            # A shrinking ceiling (an entrant) must not un-adopt anyone.
            np.maximum(new, 0.0, out=new)
            adopted += new
        else:
            np.divide(scale_ac, g, out=g)
            np.subtract(g, g_prev, out=new)
            g, g_prev = g_prev, g
        if churn_profile is not None:
            np.multiply(churn, churn_profile[t], out=mult[1])
            np.minimum(mult[1], 0.95, out=mult[1])
            np.subtract(1.0, mult[1], out=mult[1])
            np.multiply(mult[1], growth, out=mult[0])
        state[1:] *= mult
        state[1:] += new
        state[0].sum(axis=0, out=new_total)
        state[1].sum(axis=0, out=units)
        flow = flow_m[t]
        np.multiply(units, pg, out=flow)
        np.multiply(new_total, cac, out=vtmp)
        flow -= vtmp
        flow -= opex
        disc *= step_disc
        np.multiply(flow, disc, out=vtmp)
        npv += vtmp
        if npv_only:
            continue
        np.add(cash, flow, out=cash_m[t])
        cash = cash_m[t]
        units_year[t // 12] += units
        new_year[t // 12] += new_total
        if t + 1 == window:
            customers_now = state[2].sum(axis=0)
            gained = new_year[0].copy()
            observed = {"customers": customers_now, "new_customers": gained, "mrr": units * price,
                        "churned": np.maximum(model["init_customers"] + gained - customers_now, 0.0),
                        "acquisition_spend": gained * cac}
        if keep_monthly:
            np.multiply(units, price, out=revenue_m[t])
            state[2].sum(axis=0, out=customers_m[t])
    if npv_only:
        return {"npv": npv + _terminal(state[1], price, gm, churn, growth, r_m, seg_buf) * disc}
    if not entrant:
        adopted = np.subtract(g_prev, g_start, out=g_prev)
    trough = cash_m.min(axis=0)
    np.minimum(trough, -upfront, out=trough)
    # First month with a positive operating cash flow (break-even) and with cumulative cash back at 0 (payback).
    hit = thread_scratch("hit", (HORIZON, n), np.bool_)
    breakeven = _first_month(np.greater(flow_m, 0.0, out=hit))
    payback = _first_month(np.greater_equal(cash_m, 0.0, out=hit))
    revenue_year = units_year * price
    revenue = units * price
    cash = cash_m[-1].copy()  # cash_m may be a reused scratch buffer

    # The per-segment tail in two scratch buffers (same operations, no fresh (segments, n) arrays).
    npv += _terminal(state[1], price, gm, churn, growth, r_m, seg_buf) * disc
    t1, t2 = seg_buf("tail1"), seg_buf("tail2")
    growth -= 1.0                                # growth - 1 (the expansion rate) from here on
    exp_w = np.multiply(growth, weights, out=t2).sum(axis=0)
    lifetime = np.minimum(1.0 / np.maximum(churn_eff - exp_w, 1.0 / LTV_CAP_MONTHS), LTV_CAP_MONTHS)
    margin = pg
    funding = np.maximum(-trough, 0.0)
    arr36 = 12.0 * revenue
    ceiling_total = ceiling.sum(axis=0)
    acceptance_mix = np.multiply(acceptance, share_seg, out=t1).sum(axis=0)
    share_mix = np.multiply(share, share_seg, out=t2).sum(axis=0)
    out = {
        "npv": npv,
        "upfront": np.array(upfront, dtype=np.float64, copy=True),
        # The Bass innovation rate the path ran with: drawn, or solved from traction (the report's posterior).
        "innovation_rate": np.array(p_path, dtype=np.float64, copy=True),
        "acquisition_y1": new_year[0] * cac,
        "acquisition_y2": new_year[1] * cac,
        "acquisition_y3": new_year[2] * cac,
        "cash_y1": cash_m[11].copy(),
        "cash_y2": cash_m[23].copy(),
        **{"obs_" + k: v for k, v in observed.items()},
        "revenue_y1": revenue_year[0],
        "revenue_y2": revenue_year[1],
        "revenue_y3": revenue_year[2],
        "arr_36": arr36,
        "customers_36": state[2].sum(axis=0),
        "funding_need": funding,
        "cash_36": cash,
        "breakeven_month": breakeven,
        "payback_month": payback,
        "roi": npv / np.maximum(funding, np.maximum(x["upfront_cost"], 1.0)),
        "ltv_cac": margin * lifetime / cac,
        "cac_payback_months": cac / np.maximum(margin, 1e-9),
        "acceptance": acceptance_mix,
        "market_share": share_mix,
        "ceiling_accounts": ceiling_total,
        "adopted_36": adopted.sum(axis=0),
        "reach_som": (arr36 >= model["som_arr"]).astype(np.float64),
        # A customer's monthly margin less the cost of replacing the customers who churn; and the monthly profit once
        # the whole reachable market is won. Negative means no scale ever pays the fixed costs.
        "unit_contribution": margin - churn_eff * cac,
        "steady_profit": ceiling_total * (margin - churn_eff * cac) - opex,
        "opex_monthly": np.array(opex, dtype=np.float64, copy=True),
        "breakeven_arr": 12.0 * opex / np.maximum(gm, 1e-9),
    }
    if keep_monthly:
        out["monthly"] = {"revenue": revenue_m, "customers": customers_m, "cash": cash_m}
    return out
