"""Competitor analysis: the client's named competitors with their shares fitted exactly, synthetic ones for the
part of the market nobody named, and the landscapes the simulation integrates over.

The choice model is a multinomial logit with an outside option (the status quo). Utilities are identified only up to
a constant, so given shares s_j and the outside share s_0 the utilities δ_j = ln(s_j / s_0) reproduce them exactly
(Berry 1994, "inversion"): a competitor holding 1 % of the market has a 1 % effect whatever its price. Our product
enters as a typical competitor (the average share) shifted by ``product_advantage`` and by its price against the
share-weighted competitor price.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from smvm.contracts import Competitors, MarketData
from smvm.market.personas import LANDSCAPES

_STREAM = 0xC0B7  # spawn key of the competitor landscapes' random stream
#: With no competitor at all, our product is as attractive as a typical entrant holding this share would be.
NO_COMPETITION_SHARE = 0.1
#: The status quo keeps at least this share in the fit (a logit needs a positive outside share).
MIN_OUTSIDE_SHARE = 0.02
#: Of the market the client did not attribute to named competitors, the share served by competitors nobody named
#: is unknown: Beta(4, 4) per landscape (mean 50 %, 80 % of draws between 31 % and 69 %).
SERVED_REST = (4.0, 4.0)
#: Spread of an unknown competitor's price around our own planned price (lognormal sigma). Competitors nobody named
#: are assumed to sell at our price point: whether that price level is viable at all is the willingness-to-pay
#: model's question, and a category benchmark would make every premium product look overpriced against them.
PRICE_SPREAD = 0.35

_NAME_A = ("North", "Blue", "Bright", "Iron", "Clear", "Summit", "Vector", "Nimbus", "Harbor", "Quanta", "Atlas",
           "Pioneer", "Keystone", "Lumen", "Cobalt", "Cedar", "Orbit", "Zenith", "Granite", "Beacon")
_NAME_B = ("wind", "path", "stack", "ly", "works", "hub", "labs", "point", "base", "scale", "flow", "field")


def _positioning(price_rel: float, strength: float) -> str:
    if strength >= 0:
        return "premium leader" if price_rel >= 1 else "value leader"
    return "overpriced challenger" if price_rel >= 1 else "budget option"


def _landscape(named: list[dict[str, Any]], n_synth: int, typical: float, served_fraction: float,
               rng: np.random.Generator) -> dict[str, Any]:
    """One draw of the unknown part of the market: who holds the unattributed shares, at what prices.

    ``typical`` is the price unknown competitors are drawn around (our planned price); ``served_fraction`` is the
    share of the unattributed market that unknown competitors serve in this landscape.
    """
    given = sum(c["share"] for c in named if c.get("share") is not None)
    rest = max(1.0 - given, 0.0)
    unknown = [i for i, c in enumerate(named) if c.get("share") is None] + [None] * n_synth
    served = rest * served_fraction if unknown else 0.0
    split = rng.dirichlet(np.full(len(unknown), 2.0)) * served if unknown else np.zeros(0)
    outside = max(rest - served, MIN_OUTSIDE_SHARE)
    shares, prices = [], []
    unknown_share = dict(zip(unknown[:len(unknown) - n_synth], split[:len(unknown) - n_synth], strict=True))
    for i, c in enumerate(named):
        shares.append(float(c["share"]) if c.get("share") is not None else float(unknown_share[i]))
        prices.append(float(c["price"]) if c.get("price") is not None else typical * float(rng.lognormal(0, PRICE_SPREAD)))
    for s in split[len(unknown) - n_synth:]:
        shares.append(float(s))
        prices.append(typical * float(rng.lognormal(0.0, PRICE_SPREAD)))
    served_total = sum(shares)
    n_comp = len(shares)
    typical_share = served_total / n_comp if n_comp and served_total > 0 else NO_COMPETITION_SHARE
    reference = sum(s * p for s, p in zip(shares, prices, strict=True)) / served_total if served_total > 0 else typical
    return {
        "shares": shares,
        "prices": prices,
        "outside_share": outside,
        "log_base": math.log(typical_share / outside),
        "comp_const": served_total / outside,
        "reference_price": max(reference, 1e-6),
    }


def synthesize_competitors(request: dict[str, Any], market_data: MarketData, *, count: int,
                           seed: int) -> Competitors:
    """Client-named competitors first, then synthetic ones up to ``count``; top 5, a positioning matrix and the
    choice model's landscapes.

    The named competitors and the shares the client gave are the same in every landscape; what nobody named (how
    much of the rest is served, by whom, at what price) is drawn from the run's seed in each of ``LANDSCAPES``
    landscapes. The listed competitors are landscape 0's, every synthetic one marked ``"synthetic": true``.

    :raises ValueError: if ``count`` is outside 0..50.
    """
    if not 0 <= int(count) <= 50:
        raise ValueError("competitor count must be between 0 and 50")
    named = market_data["evidence"].get("competitors") or []
    typical = float(market_data["market"]["reference_price"])
    n_synth = max(int(count) - len(named), 0)
    # The served share has a stream of its own, so naming one more competitor leaves each landscape's unknown
    # market as it was and only re-splits it.
    served_stream, rng = (np.random.default_rng(s) for s in
                          np.random.SeedSequence(int(seed), spawn_key=(_STREAM,)).spawn(2))
    served = served_stream.beta(*SERVED_REST, size=LANDSCAPES)
    draws = [_landscape(named, n_synth, typical, float(f), rng) for f in served]
    first = draws[0]
    names = _synthetic_names(n_synth, {c["name"].lower() for c in named}, rng)
    our_price = float(market_data["market"]["reference_price"])
    out: list[dict[str, Any]] = []
    typical_share = math.exp(first["log_base"]) * first["outside_share"]
    for i, (share, price) in enumerate(zip(first["shares"], first["prices"], strict=True)):
        client = i < len(named)
        c = named[i] if client else {}
        strength = math.log(max(share, 1e-6) / typical_share)
        out.append({
            "id": f"C{i + 1:02d}",
            "name": c["name"] if client else names[i - len(named)],
            "synthetic": not client,
            "source": "client" if client else "synthetic",
            "price": price,
            "price_source": "client" if client and c.get("price") is not None else "synthetic",
            "share": share,
            "share_source": "client" if client and c.get("share") is not None else "synthetic",
            "strength": round(strength, 6),
            "strengths": list(c.get("strengths") or []),
            "price_relative": price / our_price if our_price > 0 else 1.0,
        })
        out[-1]["position"] = _positioning(out[-1]["price_relative"], strength)
    top5 = sorted(out, key=lambda c: (-c["share"], c["id"]))[:5]
    adv = market_data["inputs"]["product_advantage"]["likely"]
    matrix = {
        "axes": {"x": "price relative to our planned price", "y": "attractiveness vs a typical competitor (utility)"},
        "quadrants": ["premium leader", "value leader", "overpriced challenger", "budget option"],
        "points": [{"id": c["id"], "name": c["name"], "x": c["price_relative"], "y": c["strength"], "share": c["share"],
                    "position": c["position"], "synthetic": c["synthetic"]} for c in out]
                  + [{"id": "US", "name": "This idea", "x": 1.0, "y": float(adv), "share": None,
                      "position": _positioning(1.0, adv), "synthetic": False}],
    }
    return {
        "competitors": out,
        "count": len(out),
        "named": len(named),
        "synthetic": n_synth,
        "top_5": [{k: c[k] for k in ("id", "name", "share", "price", "strength", "position", "synthetic")}
                  for c in top5],
        "positioning_matrix": matrix,
        "concentration_hhi": float(sum((s * 100) ** 2 for s in first["shares"])),
        "outside_share": first["outside_share"],
        "seed": int(seed),
        "method": ("Named competitors with the client's shares fitted exactly (Berry inversion); synthetic competitors "
                   f"(invented, not real companies) for the unattributed market, redrawn in each of {LANDSCAPES} "
                   "landscapes from the run's seed"),
        "landscapes": {
            "count": LANDSCAPES,
            "log_base": [d["log_base"] for d in draws],
            "comp_const": [d["comp_const"] for d in draws],
            "reference_price": [d["reference_price"] for d in draws],
            "outside_share": [d["outside_share"] for d in draws],
        },
    }


def _synthetic_names(n: int, used: set[str], rng: np.random.Generator) -> list[str]:
    names = []
    for _ in range(n):
        for _attempt in range(50):
            name = str(rng.choice(_NAME_A)) + str(rng.choice(_NAME_B))
            if name.lower() not in used:
                break
        used.add(name.lower())
        names.append(name)
    return names
