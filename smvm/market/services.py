"""Market data ingestion, persona synthesis and competitor synthesis (pure, deterministic, JSON in and out)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from smvm.market.priors import DOMAINS, domain_priors, infer_domain, market_defaults, priors_version
from smvm.market.technical import technical_profile

GRADE_VALUE = {"benchmark": 0.2, "override": 0.6, "client": 1.0}
# How much of the verdict each input tends to carry (from the Sobol runs on the benchmark ideas);
# the data-quality score weights evidence where it matters, not by input count.
_QUALITY_WEIGHTS = {"market_size": 3.0, "price": 2.0, "wtp_level": 2.0, "churn": 2.0, "cac": 2.0, "bass_p": 1.0,
                    "bass_q": 1.0, "gross_margin": 1.0, "competitor_strength": 1.0, "product_advantage": 1.0}
DEFAULT_CORRELATIONS = (
    ("cac", "churn", 0.3, "Expensive-to-acquire customers are usually poorer-fit customers who churn more"),
    ("price", "bass_q", -0.3, "A higher price slows word-of-mouth adoption"),
    ("market_size", "competitor_strength", 0.3, "Bigger markets attract more and stronger competitors"),
    ("churn", "expansion", -0.2, "Accounts that churn rarely expand"),
)


def _idea_rng(request: dict[str, Any], seed: int, salt: str) -> np.random.Generator:
    idea = request.get("idea") or {}
    digest = hashlib.sha256(
        "|".join([salt, str(idea.get("title") or ""), str(idea.get("description") or "")]).encode()).digest()
    return np.random.default_rng([int.from_bytes(digest[:8], "little"), int(seed) & 0xFFFFFFFFFFFFFFFF])


def _van_westendorp(survey: list[dict[str, float]]) -> dict[str, Any]:
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
        "wtp_p10": float(np.percentile(wtp, 10)),
        "wtp_p50": float(np.percentile(wtp, 50)),
        "wtp_p90": float(np.percentile(wtp, 90)),
    }


def _set(inputs: dict[str, Any], name: str, low: float, likely: float, high: float, grade: str, note: str) -> None:
    entry = inputs[name]
    entry.update(low=float(low), likely=float(likely), high=float(high), grade=grade, note=note)


def _resolve_market(idea: dict[str, Any], domain: str) -> dict[str, Any]:
    defaults = market_defaults(domain)
    flags: list[str] = []
    tam, sam, som = idea.get("estimated_tam"), idea.get("estimated_sam"), idea.get("estimated_som")
    out: dict[str, Any] = {}
    if tam:
        out["tam"] = {"value": float(tam), "source": "client"}
    elif sam:
        out["tam"] = {"value": float(sam) / defaults["sam_fraction"], "source": "derived"}
        flags.append("TAM derived from the client's SAM and the domain's SAM fraction")
    else:
        out["tam"] = {"value": float(defaults["tam"]), "source": "domain_default"}
        flags.append("TAM is a domain default, not evidence")
    if sam:
        out["sam"] = {"value": float(sam), "source": "client"}
    else:
        out["sam"] = {"value": out["tam"]["value"] * defaults["sam_fraction"], "source": "derived"}
        flags.append(f"SAM derived as {defaults['sam_fraction']:.0%} of TAM (domain default fraction)")
    if som:
        out["som"] = {"value": float(som), "source": "client"}
    else:
        out["som"] = {"value": out["sam"]["value"] * defaults["som_fraction"], "source": "derived"}
        flags.append(f"SOM derived as {defaults['som_fraction']:.0%} of SAM (domain default fraction)")
    if out["sam"]["value"] > out["tam"]["value"] * (1 + 1e-9):
        flags.append("SAM exceeds TAM; SAM is used as given")
    if out["som"]["value"] > out["sam"]["value"] * (1 + 1e-9):
        flags.append("SOM exceeds SAM; SOM target is unlikely to be reachable")
    out["flags"] = flags
    out["default_source"] = defaults["source"]
    return out


def ingest_market_data(request: dict[str, Any]) -> dict[str, Any]:
    """Resolve domain, priors, client evidence, TAM/SAM/SOM and data quality for one normalized request.

    Evidence narrows the matching priors; per-request ``evidence.priors`` overrides win over everything.
    Output is the ``inputs/market_data.json`` document.
    """
    idea = request.get("idea") or {}
    evidence = request.get("evidence") or {}
    given = idea.get("domain")
    if given in DOMAINS:
        domain, how, hits = given, "given", {}
    else:
        text = " ".join(str(idea.get(k) or "") for k in ("title", "description", "target_market",
                                                          "value_proposition", "target_customers", "hypothesis"))
        domain, hits = infer_domain(text)
        how = "inferred"

    inputs: dict[str, Any] = {}
    for name, spec in domain_priors(domain).items():
        inputs[name] = {**spec, "grade": "benchmark", "note": "benchmark prior, not evidence"}
    notes: list[str] = []
    market = _resolve_market(idea, domain)
    tech = technical_profile(idea, domain)

    # Fixed costs scale with the ambition: a team chasing a $50M SOM costs more than one chasing $2M.
    som_scale = min(max((market["som"]["value"] / 5e6) ** 0.35, 0.5), 3.0)
    for key, factor, why in (("opex", som_scale, f"scaled x{som_scale:.2f} by SOM ambition"),
                             ("upfront_cost", tech["upfront_multiplier"],
                              f"scaled x{tech['upfront_multiplier']:.2f} by technical complexity")):
        e = inputs[key]
        e.update(low=e["low"] * factor, likely=e["likely"] * factor, high=e["high"] * factor,
                 note=f"benchmark prior, {why}")

    if market["sam"]["source"] == "client":
        _set(inputs, "market_size", 0.75, 1.0, 1.3, "client", "client SAM estimate; residual estimation error")

    vw = None
    if evidence.get("wtp_survey"):
        vw = _van_westendorp(evidence["wtp_survey"])
        _set(inputs, "wtp_level", 0.9, 1.0, 1.1, "client", f"Van Westendorp survey, {vw['respondents']} respondents")
    price_points = [float(p) for p in evidence.get("price_points") or []]
    traction = evidence.get("traction")
    if price_points:
        lo, mid, hi = min(price_points), float(np.median(price_points)), max(price_points)
        if hi - lo < 1e-9 * max(hi, 1.0):
            lo, hi = mid * 0.9, mid * 1.1
        _set(inputs, "price", lo, mid, hi, "client", f"{len(price_points)} client price point(s)")
    elif vw:
        lo, hi = min(vw["pmc"], vw["pme"]), max(vw["pmc"], vw["pme"])
        mid = min(max((vw["opp"] + vw["ipp"]) / 2, lo), hi)
        if hi - lo < 1e-9 * max(hi, 1.0):
            lo, hi = mid * 0.9, mid * 1.1
        _set(inputs, "price", lo, mid, hi, "client", "Van Westendorp acceptable range (PMC..PME), OPP/IPP midpoint")
    elif traction and traction["customers"] > 0 and traction["monthly_revenue"] > 0:
        arpa = traction["monthly_revenue"] / traction["customers"]
        _set(inputs, "price", arpa * 0.85, arpa, arpa * 1.15, "client", "ARPA implied by early traction")

    cac_note = None
    if evidence.get("channels"):
        ch = evidence["channels"]
        weight = sum(c["share"] for c in ch) or 1.0
        blended = sum(c["cac"] * (c["share"] or 0.0) for c in ch) / weight if any(c["share"] for c in ch) else \
            float(np.mean([c["cac"] for c in ch]))
        cac_note = f"blended CAC over {len(ch)} channel(s)"
    elif evidence.get("cac"):
        blended = float(evidence["cac"])
        cac_note = "client CAC figure"
    if cac_note:
        _set(inputs, "cac", blended * 0.8, blended, blended * 1.25, "client", cac_note)

    competitors = evidence.get("competitors") or []
    if competitors and any(c.get("share") is not None for c in competitors):
        _set(inputs, "competitor_strength", -0.2, 0.0, 0.2, "client", "client-named competitors with shares")
    if traction:
        notes.append(f"Early traction: {traction['customers']} customers, "
                     f"${traction['monthly_revenue']:,.0f} MRR after {traction['months']} months (starting base)")

    for name, ov in (evidence.get("priors") or {}).items():
        _set(inputs, name, ov["low"], ov["likely"], ov["high"], "override", "per-request prior override")

    grades = {n: e["grade"] for n, e in inputs.items()}
    total_w = sum(_QUALITY_WEIGHTS.get(n, 0.5) for n in inputs)
    score = sum(_QUALITY_WEIGHTS.get(n, 0.5) * GRADE_VALUE[g] for n, g in grades.items()) / total_w
    if market["som"]["source"] == "client":
        score = min(1.0, score + 0.02)
    notes.extend(market["flags"])
    n_bench = sum(1 for g in grades.values() if g == "benchmark")
    notes.insert(0, f"{n_bench} of {len(grades)} inputs rest on benchmark priors")

    ref_price = inputs["price"]["likely"]
    return {
        "project_id": request.get("project_id"),
        "run_id": request.get("run_id"),
        "domain": {"name": domain, "how": how, "keyword_hits": hits},
        "priors_version": priors_version(),
        "inputs": inputs,
        "market": {
            **{k: market[k] for k in ("tam", "sam", "som")},
            "flags": market["flags"],
            "default_source": market["default_source"],
            "reference_price": ref_price,
            "sam_accounts": market["sam"]["value"] / (12.0 * ref_price),
        },
        "evidence": {
            "competitors": competitors,
            "price_points": price_points,
            "van_westendorp": vw,
            "traction": traction,
            "cac_source": cac_note,
        },
        "technical": tech,
        "correlations": [{"a": a, "b": b, "rank_corr": r, "reason": why} for a, b, r, why in DEFAULT_CORRELATIONS],
        "data_quality": {"score": round(score, 4), "grades": grades, "notes": notes},
    }


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


def synthesize_personas(request: dict[str, Any], market_data: dict[str, Any], *, count: int, seed: int) -> dict[str, Any]:
    """Customer segments with SAM share, WTP, Bass adoption, churn and expansion; deterministic from idea and seed.

    :raises ValueError: if ``count`` is outside 1..50.
    """
    if not 1 <= int(count) <= 50:
        raise ValueError("persona count must be between 1 and 50")
    domain = market_data["domain"]["name"]
    arche = _ARCHETYPES["b2c" if domain in _B2C else "b2b"]
    rng = _idea_rng(request, seed, "personas")
    inputs = market_data["inputs"]
    vw = market_data["evidence"].get("van_westendorp")
    price = inputs["price"]["likely"]
    if vw:
        wtp_mid, wtp_lo, wtp_hi = vw["wtp_p50"], vw["wtp_p10"], vw["wtp_p90"]
        grade = "client"
    else:
        # With no survey, assume the planned price sits a little under the typical WTP, with a wide spread.
        wtp_mid, wtp_lo, wtp_hi = price * 1.25, price * 0.6, price * 2.6
        grade = "benchmark"
    avatars = [a for a in (request.get("idea") or {}).get("target_avatars") or [] if a]
    p0, q0, churn0 = inputs["bass_p"]["likely"], inputs["bass_q"]["likely"], inputs["churn"]["likely"]
    exp0 = inputs["expansion"]["likely"]

    raw = []
    for i in range(int(count)):
        a = arche[i % len(arche)]
        name = avatars[i] if i < len(avatars) else a[0] + _VARIANTS[(i // len(arche)) % len(_VARIANTS)]
        jit = rng.lognormal(0.0, 0.05, size=6)
        raw.append((name, a, jit))
    weights = np.array([r[1][1] * r[2][0] for r in raw])
    shares = weights / weights.sum()
    shares = np.round(shares, 6)
    shares[-1] = round(1.0 - float(shares[:-1].sum()), 6)

    personas = []
    for i, ((name, a, jit), share) in enumerate(zip(raw, shares, strict=True)):
        wm = a[2] * jit[1] if not vw else jit[1] ** 0.5
        personas.append({
            "id": f"P{i + 1:02d}",
            "name": name,
            "segment": a[0],
            "sam_share": float(share),
            "wtp": {"low": float(wtp_lo * wm), "likely": float(wtp_mid * wm), "high": float(wtp_hi * wm)},
            "adoption": {"p": float(p0 * a[3] * jit[2]), "q": float(q0 * a[4] * jit[3])},
            "churn_monthly": float(min(churn0 * a[5] * jit[4], 0.5)),
            "expansion": float(exp0 * a[7]),
            "price_sensitivity": float(a[6] * jit[5]),
            "description": a[8] + (f" (named by the client as '{name}')" if i < len(avatars) else ""),
            "evidence_grade": grade,
        })
    return {
        "personas": personas,
        "count": len(personas),
        "domain": domain,
        "seed": int(seed),
        "method": "Domain archetypes with idea-and-seed jitter; WTP from the Van Westendorp survey when given",
        "wtp_unit": "USD/account/month",
    }


_NAME_A = ("North", "Blue", "Bright", "Iron", "Clear", "Summit", "Vector", "Nimbus", "Harbor", "Quanta", "Atlas",
           "Pioneer", "Keystone", "Lumen", "Cobalt", "Cedar", "Orbit", "Zenith", "Granite", "Beacon")
_NAME_B = ("wind", "path", "stack", "ly", "works", "hub", "labs", "point", "base", "scale", "flow", "field")


def _positioning(price_rel: float, strength: float) -> str:
    if strength >= 0:
        return "premium leader" if price_rel >= 1 else "value leader"
    return "overpriced challenger" if price_rel >= 1 else "budget option"


def synthesize_competitors(request: dict[str, Any], market_data: dict[str, Any], *, count: int,
                           seed: int) -> dict[str, Any]:
    """Client-named competitors first, then synthetic ones up to ``count``; top 5 and a positioning matrix.

    :raises ValueError: if ``count`` is outside 0..50.
    """
    if not 0 <= int(count) <= 50:
        raise ValueError("competitor count must be between 0 and 50")
    # The landscape is a property of the idea, not of the seed: structure comes from the idea's hash and the seed
    # only jitters prices a little, so verdicts do not flip between seeds because the market was redrawn.
    rng = _idea_rng(request, 0, "competitors")
    jitter = _idea_rng(request, seed, "competitor-jitter")
    price = market_data["inputs"]["price"]["likely"]
    named = market_data["evidence"].get("competitors") or []
    n_named = len(named)
    out: list[dict[str, Any]] = []
    given_share = sum(c.get("share") or 0.0 for c in named)
    for c in named:
        share = c.get("share")
        strengths = list(c.get("strengths") or [])
        out.append({
            "name": c["name"],
            "price": float(c["price"]) if c.get("price") is not None else float(price * rng.lognormal(0, 0.2)),
            "share": None if share is None else float(share),
            "strength": 0.0,
            "strengths": strengths,
            "source": "client",
        })
    n_synth = max(int(count) - n_named, 0)
    used = {c["name"].lower() for c in out}
    for _ in range(n_synth):
        for _attempt in range(50):
            name = str(rng.choice(_NAME_A)) + str(rng.choice(_NAME_B))
            if name.lower() not in used:
                break
        used.add(name.lower())
        out.append({"name": name, "price": float(price * rng.lognormal(0.0, 0.35) * jitter.lognormal(0.0, 0.03)),
                    "share": None,
                    "strength": float(np.clip(rng.normal(0.0, 0.35), -1.0, 1.0)), "strengths": [],
                    "source": "synthetic"})

    # Missing shares: what the client did not claim is split by strength, keeping 40 % for the long tail.
    missing = [c for c in out if c["share"] is None]
    pool = max(1.0 - given_share, 0.0) * 0.6
    if missing:
        w = np.array([math.exp(c["strength"] + (0.3 if c["source"] == "client" else 0.0)) for c in missing])
        for c, s in zip(missing, w / w.sum() * pool, strict=True):
            c["share"] = float(s)
    n_all = max(len(out), 1)
    for c in out:
        if c["source"] == "client":
            # A named competitor's utility follows its observed share relative to a fair split, plus its strengths.
            fair = 1.0 / (n_all + 1)
            c["strength"] = float(np.clip(0.5 * math.log(max(c["share"], 1e-4) / fair) + 0.05 * len(c["strengths"]),
                                          -1.5, 1.5))
        c["price_relative"] = float(c["price"] / price) if price > 0 else 1.0
        c["position"] = _positioning(c["price_relative"], c["strength"])
    for i, c in enumerate(out):
        c["id"] = f"C{i + 1:02d}"
    top5 = sorted(out, key=lambda c: (-c["share"], c["id"]))[:5]
    adv = market_data["inputs"]["product_advantage"]["likely"]
    matrix = {
        "axes": {"x": "price relative to our planned price", "y": "strength (utility vs an average competitor)"},
        "quadrants": ["premium leader", "value leader", "overpriced challenger", "budget option"],
        "points": [{"id": c["id"], "name": c["name"], "x": c["price_relative"], "y": c["strength"],
                    "share": c["share"], "position": c["position"]} for c in out]
                  + [{"id": "US", "name": "This idea", "x": 1.0, "y": float(adv), "share": None,
                      "position": _positioning(1.0, adv)}],
    }
    shares = [c["share"] for c in out]
    hhi = float(sum((s * 100) ** 2 for s in shares)) if shares else 0.0
    return {
        "competitors": out,
        "count": len(out),
        "named": n_named,
        "synthetic": len(out) - n_named,
        "top_5": [{"id": c["id"], "name": c["name"], "share": c["share"], "price": c["price"],
                   "strength": c["strength"], "position": c["position"]} for c in top5],
        "positioning_matrix": matrix,
        "concentration_hhi": hhi,
        "seed": int(seed),
    }
