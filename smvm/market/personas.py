"""Persona synthesis: synthetic customer segments from the domain's archetypes, and the landscapes of segment mixes
the simulation integrates over. Drawn from the run's seed and the idea's facts, never from its wording."""

from __future__ import annotations

from typing import Any

import numpy as np

from smvm.contracts import MarketData, Personas

#: Synthetic landscapes per run: each path of the simulation draws one, so no single invented mix decides a verdict.
LANDSCAPES = 32
_STREAM = 0x9E75  # spawn key of the persona landscapes' random stream (the competitors use another)
# Spread of each landscape around the archetype (lognormal sigma): how unsure the segment mix and traits are.
_SHARE_SPREAD = 0.25
_TRAIT_SPREAD = 0.15

# name, share weight, wtp mult, p mult, q mult, churn mult, price sensitivity, expansion mult, description
_ARCHETYPES: dict[str, tuple[tuple[str, float, float, float, float, float, float, float, str], ...]] = {
    "b2b": (
        ("Small-business owner-operators", 0.34, 0.8, 1.2, 1.0, 1.4, 1.4, 0.6,
         "Buys alone, price-sensitive, decides in days, churns when cash is tight"),
        ("Mid-market operations teams", 0.26, 1.2, 0.9, 1.1, 0.8, 1.0, 1.2,
         "A team lead with budget; needs integrations and a short trial"),
        ("Enterprise buyers", 0.14, 2.2, 0.5, 0.8, 0.4, 0.6, 1.6,
         "Procurement, security review and long cycles; sticky once live"),
        ("Early-adopter startups", 0.14, 0.7, 1.8, 1.3, 1.6, 1.2, 1.0,
         "Tries new tools fast, talks to peers, outgrows or abandons quickly"),
        ("Agencies and consultants", 0.12, 1.0, 1.0, 1.4, 1.0, 1.0, 1.1,
         "Uses the product for several clients; strong word of mouth"),
    ),
    "b2c": (
        ("Enthusiast early adopters", 0.18, 1.3, 2.0, 1.2, 0.8, 0.8, 1.2,
         "Seeks new products, shares them, pays for quality"),
        ("Mainstream value seekers", 0.36, 0.8, 0.8, 1.0, 1.2, 1.5, 0.8,
         "Waits for proof and discounts; compares prices"),
        ("Busy professionals", 0.22, 1.4, 1.0, 0.9, 0.8, 0.7, 1.1,
         "Pays to save time; low tolerance for friction"),
        ("Students and budget-constrained", 0.14, 0.5, 1.1, 1.3, 1.6, 1.8, 0.6,
         "Very price-sensitive, high churn, strong peer influence"),
        ("Lapsed category users", 0.10, 0.9, 0.6, 0.8, 1.3, 1.2, 0.8,
         "Tried alternatives before; needs a clear reason to return"),
    ),
}
_B2C = {"retail", "consumer_subscription", "marketplace"}
_VARIANTS = ("", " (growth stage)", " (regional)", " (price-led)", " (premium)", " (late majority)",
             " (vertical niche)", " (international)", " (self-serve)", " (partner-led)")
#: Per-landscape tables: the segment mix (shares), then multipliers on each central persona's traits.
LANDSCAPE_TRAITS = ("sam_share", "wtp_mult", "p_mult", "q_mult", "churn_mult", "beta_mult")


def _wtp_spread(wtp: dict[str, Any]) -> tuple[float, float]:
    """P10 and P90 of a persona's WTP as ratios of its median."""
    return wtp["p10"] / wtp["median"], wtp["p90"] / wtp["median"]


def synthesize_personas(request: dict[str, Any], market_data: MarketData, *, count: int, seed: int) -> Personas:
    """Synthetic customer segments (the archetypes' central values) and their landscapes.

    Each segment carries a SAM share, WTP, Bass adoption multipliers, churn and expansion. ``landscapes`` holds
    ``LANDSCAPES`` draws of the segment mix and traits from the run's seed; the simulation integrates over them.

    :raises ValueError: if ``count`` is outside 1..50.
    """
    if not 1 <= int(count) <= 50:
        raise ValueError("persona count must be between 1 and 50")
    domain = market_data["domain"]["name"]
    arche = _ARCHETYPES["b2c" if domain in _B2C else "b2b"]
    inputs = market_data["inputs"]
    wtp = market_data["willingness_to_pay"]
    lo_ratio, hi_ratio = _wtp_spread(wtp)
    avatars = [a for a in (request.get("idea") or {}).get("target_avatars") or [] if a]
    p0 = inputs["bass_p"]["prior"]["likely"] if inputs["bass_p"]["distribution"] == "gamma" else inputs["bass_p"]["likely"]
    q0, churn0, exp0 = inputs["bass_q"]["likely"], inputs["churn"]["likely"], inputs["expansion"]["likely"]
    measured = wtp["source"] == "survey"

    chosen = [arche[i % len(arche)] for i in range(int(count))]
    weights = np.array([a[1] for a in chosen])
    shares = np.round(weights / weights.sum(), 6)
    shares[-1] = round(1.0 - float(shares[:-1].sum()), 6)
    personas = []
    for i, a in enumerate(chosen):
        name = avatars[i] if i < len(avatars) else a[0] + _VARIANTS[(i // len(arche)) % len(_VARIANTS)]
        # A survey measured WTP across the respondents; archetype multipliers would count that spread twice.
        wtp_mult = 1.0 if measured else a[2]
        median = wtp["median"] * wtp_mult
        personas.append({
            "id": f"P{i + 1:02d}",
            "name": name,
            "segment": a[0],
            "synthetic": True,
            "sam_share": float(shares[i]),
            "wtp": {"low": median * lo_ratio, "likely": median, "high": median * hi_ratio},
            "adoption": {"p": p0 * a[3], "q": q0 * a[4]},
            "churn_monthly": float(min(churn0 * a[5], 0.5)),
            "expansion": exp0 * a[7],
            "price_sensitivity": a[6],
            "multipliers": {"wtp": wtp_mult, "p": a[3], "q": a[4], "churn": a[5], "expansion": a[7]},
            "description": a[8] + (f" (named by the client as '{name}')" if i < len(avatars) else ""),
            "evidence_grade": wtp["grade"],
        })
    return {
        "personas": personas,
        "count": len(personas),
        "domain": domain,
        "seed": int(seed),
        "synthetic": True,
        "method": ("Synthetic segments from the domain's archetypes (not real customers); WTP centred on "
                   f"{_wtp_text(wtp)}; the simulation draws each path's mix from {LANDSCAPES} synthetic landscapes"),
        "wtp_unit": "USD/account/month",
        "landscapes": _landscapes(shares, chosen, seed, measured),
    }


def _wtp_text(wtp: dict[str, Any]) -> str:
    return {"survey": "the client's Van Westendorp survey", "traction": "what paying customers pay"}.get(
        wtp["source"], "the domain's typical price (a benchmark)")


def _landscapes(shares: np.ndarray, chosen: list[Any], seed: int, measured: bool) -> dict[str, Any]:
    """``LANDSCAPES`` draws of the segment mix and per-segment trait multipliers (relative to the central persona)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_STREAM,)))
    segs = len(chosen)
    mix = shares[:, None] * rng.lognormal(0.0, _SHARE_SPREAD, size=(segs, LANDSCAPES))
    mix /= mix.sum(axis=0, keepdims=True)
    traits = rng.lognormal(0.0, _TRAIT_SPREAD, size=(len(LANDSCAPE_TRAITS) - 1, segs, LANDSCAPES))
    if measured:
        traits[0] = 1.0  # surveyed WTP is not re-drawn
    out = {"count": LANDSCAPES, "sam_share": mix.round(6).tolist()}
    for name, table in zip(LANDSCAPE_TRAITS[1:], traits, strict=True):
        out[name] = table.round(6).tolist()
    return out
