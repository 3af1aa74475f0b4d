"""Data ingestion: the domain's benchmark priors, updated by the client's evidence into the inputs the simulation
draws from. Pure and deterministic: the same request gives the same document, whatever its wording."""

from __future__ import annotations

from typing import Any

import numpy as np

from smvm.contracts import MarketData
from smvm.market import evidence as ev
from smvm.market.priors import DOMAINS, domain_priors, infer_domain, market_defaults, priors_version
from smvm.market.technical import technical_profile

GRADE_VALUE = {"benchmark": 0.2, "override": 0.6, "client": 1.0}
# How much of the verdict each input tends to carry; the data-quality figure weights evidence where it matters.
_QUALITY_WEIGHTS = {"market_size": 3.0, "price": 2.0, "wtp_level": 2.0, "churn": 2.0, "cac": 2.0, "bass_p": 2.0,
                    "bass_q": 1.0, "gross_margin": 1.0, "opex": 1.0, "competitor_strength": 1.0,
                    "product_advantage": 1.0}
DEFAULT_CORRELATIONS = (
    ("cac", "churn", 0.3, "Expensive-to-acquire customers are usually poorer-fit customers who churn more"),
    ("price", "bass_q", -0.3, "A higher price slows word-of-mouth adoption"),
    ("market_size", "competitor_strength", 0.3, "Bigger markets attract more and stronger competitors"),
    ("churn", "expansion", -0.2, "Accounts that churn rarely expand"),
)
#: The share of competitors' pre-existing shares a client must name before their fit pins competitor_strength.
NAMED_SHARE_FOR_CLIENT_GRADE = 0.5
#: Hardware sells at lower margins than software: a benchmark gross margin is scaled by this when hardware is stated.
HARDWARE_MARGIN_FACTOR = 0.75
#: A benchmark's fixed costs fit a seed-stage company addressing about this serviceable market (USD a year); a team
#: chasing a smaller market runs leaner and one chasing a larger one bigger, by (SAM / this) ** OPEX_SCALE_POWER.
#: Before launch, revenue potential grows in proportion to the SAM and costs less than that, so a larger market never
#: hurts; once customers are known, adoption follows them and the benchmark is not scaled.
OPEX_REFERENCE_SAM = 5e8
OPEX_SCALE_POWER = 0.35
OPEX_SCALE_BOUNDS = (0.3, 3.0)
#: Text fields domain inference reads. The title is a name, not a description, so it never decides the domain.
_DOMAIN_TEXT_FIELDS = ("description", "target_market", "value_proposition", "target_customers", "hypothesis")


def _resolve_domain(idea: dict[str, Any]) -> dict[str, Any]:
    given = idea.get("domain")
    if given in DOMAINS:
        return {"name": given, "how": "given", "keyword_hits": {}}
    text = " ".join(str(idea.get(k) or "") for k in _DOMAIN_TEXT_FIELDS)
    domain, hits = infer_domain(text)
    return {"name": domain, "how": "inferred", "keyword_hits": hits,
            "note": "Inferred from the description's words (a weak, declared prior); state business_idea.domain"}


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
    out["flags"] = flags
    out["default_source"] = defaults["source"]
    return out


class _Inputs:
    """The inputs being built: benchmark priors first, then evidence replaces or updates them, one input at a time,
    keeping the prior beside the posterior and recording what was used and what was not."""

    def __init__(self, domain: str) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        for name, spec in domain_priors(domain).items():
            prior = {k: spec[k] for k in ("distribution", "low", "likely", "high", "unit", "source")}
            self.entries[name] = {**prior, "description": spec["description"], "grade": "benchmark",
                                  "evidence": None, "prior": prior}
        self.used: list[dict[str, str]] = []
        self.unused: list[dict[str, str]] = []

    def benchmark(self, name: str) -> dict[str, Any]:
        return self.entries[name]["prior"]

    def scale_benchmark(self, name: str, factor: float, why: str) -> None:
        entry = self.entries[name]
        if entry["grade"] != "benchmark":
            return
        entry.update(low=entry["low"] * factor, likely=entry["likely"] * factor, high=entry["high"] * factor,
                     source=f"{entry['prior']['source']}; {why}")

    def set(self, name: str, *, low: float, likely: float, high: float, evidence: str, field: str,
            distribution: str | None = None, grade: str = "client", **extra: Any) -> None:
        entry = self.entries[name]
        entry.update(low=float(low), likely=float(likely), high=float(high), grade=grade, evidence=evidence,
                     source=f"Client evidence ({field}): {evidence}" if grade == "client" else evidence, **extra)
        if distribution:
            entry["distribution"] = distribution
        self.used.append({"field": field, "input": name, "how": evidence})

    def replace(self, name: str, spec: dict[str, Any], *, evidence: str, field: str) -> None:
        entry = self.entries[name]
        for key in ("a", "b", "shape", "scale", "months", "customers", "observations"):
            entry.pop(key, None)
        entry.update({k: v for k, v in spec.items() if k != "prior"}, grade="client", evidence=evidence)
        self.used.append({"field": field, "input": name, "how": evidence})

    def not_used(self, field: str, why: str) -> None:
        self.unused.append({"field": field, "reason": why})


def ingest_market_data(request: dict[str, Any]) -> MarketData:
    """Resolve domain, priors, client evidence and facts, TAM/SAM/SOM and data quality for one normalized request.

    Evidence updates the matching priors (Bayes where the evidence is a sample, replacement where it is a decision
    such as a stated price); ``evidence.priors`` overrides win over everything. Output is
    ``inputs/market_data.json``.
    """
    idea = request.get("idea") or {}
    evidence = request.get("evidence") or {}
    facts = request.get("facts") or {}
    financials = facts.get("financials") or {}
    domain = _resolve_domain(idea)
    name = domain["name"]
    market = _resolve_market(idea, name)
    tech = technical_profile(facts.get("technology") or {}, idea, name)
    inputs = _Inputs(name)
    traction = evidence.get("traction")
    live = bool(traction)

    if market["sam"]["source"] == "client":
        inputs.set("market_size", low=0.75, likely=1.0, high=1.3, field="business_idea.estimated_sam",
                   evidence="the client's SAM estimate, with a residual estimation error of about ±25 %")

    vw = ev.van_westendorp(evidence["wtp_survey"]) if evidence.get("wtp_survey") else None
    price_source = _price(inputs, evidence, financials, vw, traction)
    wtp = _willingness_to_pay(inputs, vw, traction, price_source)
    _cac(inputs, evidence)
    _churn(inputs, facts.get("retention"), evidence)
    if traction:
        spec = ev.traction_spec(traction, inputs.benchmark("bass_p"))
        inputs.replace("bass_p", spec, evidence=f"{traction['customers']:,} paying customers after "
                                                 f"{traction['months']} months", field="evidence.traction")
    _financials(inputs, financials, tech, live, market["sam"]["value"])
    named = evidence.get("competitors") or []
    named_share = sum(c.get("share") or 0.0 for c in named)
    if named_share >= NAMED_SHARE_FOR_CLIENT_GRADE:
        inputs.set("competitor_strength", low=-0.1, likely=0.0, high=0.1, field="evidence.competitors",
                   distribution="pert", evidence=f"named competitors hold {named_share:.0%} of the market; their "
                                                 "utilities are fitted to those shares")
    elif named:
        inputs.not_used("evidence.competitors", f"named competitors explain only {named_share:.0%} of the market: "
                        "their shares are fitted in the choice model, but competitor_strength keeps its benchmark")
    for input_name, override in (evidence.get("priors") or {}).items():
        inputs.set(input_name, low=override["low"], likely=override["likely"], high=override["high"],
                   field=f"evidence.priors.{input_name}", grade="override",
                   evidence="per-request prior override (the client's judgement, not a measurement)")
        for used in [u for u in inputs.used if u["input"] == input_name and u["field"] != f"evidence.priors.{input_name}"]:
            inputs.used.remove(used)
            inputs.not_used(used["field"], f"superseded by the per-request override evidence.priors.{input_name}")
    if traction and inputs.entries["bass_p"]["grade"] != "client":
        inputs.not_used("evidence.traction", "adoption superseded by the override evidence.priors.bass_p; "
                        "the customers still start the simulation")

    entries = inputs.entries
    grades = {n: e["grade"] for n, e in entries.items()}
    total_w = sum(_QUALITY_WEIGHTS.get(n, 0.5) for n in entries)
    score = sum(_QUALITY_WEIGHTS.get(n, 0.5) * GRADE_VALUE[g] for n, g in grades.items()) / total_w
    notes = [f"{sum(1 for g in grades.values() if g == 'benchmark')} of {len(grades)} inputs rest on benchmark priors"]
    notes.extend(market["flags"])
    if traction:
        notes.append(f"Early traction: {traction['customers']:,} customers, ${traction['monthly_revenue']:,.0f} MRR "
                     f"after {traction['months']} months (the simulation starts from them)")
    reference_price = float(entries["price"]["likely"])
    # The SAM's accounts are counted at the price the client states or charges (that is how a SAM is sized); a
    # survey's range or a benchmark guess are not the client's price, so the domain's typical price counts them.
    account_price = reference_price if price_source in ("planned", "price_points", "traction") \
        else float(inputs.benchmark("price")["likely"])
    return {
        "project_id": request.get("project_id"),
        "run_id": request.get("run_id"),
        "domain": domain,
        "priors_version": priors_version(),
        "inputs": entries,
        "market": {
            **{k: market[k] for k in ("tam", "sam", "som")},
            "flags": market["flags"],
            "default_source": market["default_source"],
            "reference_price": reference_price,
            "typical_price": float(inputs.benchmark("price")["likely"]),
            "account_price": account_price,
            "sam_accounts": market["sam"]["value"] / (12.0 * account_price),
        },
        "willingness_to_pay": wtp,
        "evidence": {
            "competitors": named,
            "price_points": [float(p) for p in evidence.get("price_points") or []],
            "van_westendorp": vw,
            "traction": traction,
            "retention": facts.get("retention"),
            "cac_source": entries["cac"]["evidence"],
            "used": inputs.used,
            "unused": inputs.unused,
        },
        "facts": {"team": facts.get("team") or {}, "technology": facts.get("technology") or {},
                  "financials": financials, "product_live": live},
        "technical": tech,
        "correlations": [{"a": a, "b": b, "rank_corr": r, "reason": why} for a, b, r, why in DEFAULT_CORRELATIONS],
        "data_quality": {"score": round(score, 4), "grades": grades, "notes": notes},
    }


def _price(inputs: _Inputs, evidence: dict[str, Any], financials: dict[str, Any], vw: dict[str, Any] | None,
           traction: dict[str, Any] | None) -> str:
    """Set the price from the strongest source and say which; a stated price is a decision, not a guess."""
    points = [float(p) for p in evidence.get("price_points") or []]
    arpa = traction["monthly_revenue"] / traction["customers"] if traction and traction["customers"] else None
    if financials.get("planned_price"):
        price = float(financials["planned_price"])
        inputs.set("price", low=price, likely=price, high=price, field="financials.planned_price",
                   evidence=f"the stated price, ${price:,.2f} a month")
        if points:
            inputs.not_used("evidence.price_points", "the stated planned price is the price")
        if vw:
            inputs.not_used("evidence.wtp_survey (price range)", "the stated planned price is the price; the survey "
                            "still sets willingness to pay")
        return "planned"
    if points:
        lo, mid, hi = min(points), float(np.median(points)), max(points)
        if hi - lo < 1e-9 * max(hi, 1.0):
            lo = hi = mid
        inputs.set("price", low=lo, likely=mid, high=hi, field="evidence.price_points",
                   evidence=f"{len(points)} client price point(s)")
        return "price_points"
    if arpa:
        # What customers pay is a fact about the price; a survey only says what they would accept.
        inputs.set("price", low=arpa * 0.9, likely=arpa, high=arpa * 1.1, field="evidence.traction",
                   evidence=f"revenue per paying customer, ${arpa:,.2f} a month")
        if vw:
            inputs.not_used("evidence.wtp_survey (price range)", "customers already pay a price; the survey still "
                            "sets willingness to pay")
        return "traction"
    if vw:
        lo, mid, hi = ev.survey_price_range(vw)
        inputs.set("price", low=lo, likely=mid, high=hi, field="evidence.wtp_survey",
                   evidence="Van Westendorp acceptable range (PMC..PME), OPP/IPP midpoint")
        return "survey"
    return "benchmark"


def _willingness_to_pay(inputs: _Inputs, vw: dict[str, Any] | None, traction: dict[str, Any] | None,
                        price_source: str) -> dict[str, Any]:
    """Where each persona's willingness to pay is centred, in USD a month, and how wide it is.

    A survey measures it; paying customers prove that their price is accepted; otherwise the domain's typical
    price is the centre, so a price far above what the category pays is penalised whatever the plan says.
    """
    if vw:
        inputs.set("wtp_level", low=0.9, likely=1.0, high=1.1, field="evidence.wtp_survey",
                   evidence=f"Van Westendorp survey, {vw['respondents']} respondents")
        return {"source": "survey", "median": vw["wtp_p50"], "p10": vw["wtp_p10"], "p90": vw["wtp_p90"],
                "grade": "client"}
    if traction and traction["customers"] > 0:
        arpa = traction["monthly_revenue"] / traction["customers"]
        inputs.set("wtp_level", low=0.85, likely=1.0, high=1.15, field="evidence.traction",
                   evidence=f"{traction['customers']:,} customers pay ${arpa:,.2f} a month")
        # Customers who pay a price value the product above it: the centre sits a quarter above what they pay.
        return {"source": "traction", "median": arpa * 1.25, "p10": arpa * 0.75, "p90": arpa * 2.2, "grade": "client"}
    # With no evidence, the centre sits between the planned price (the client knows its segment) and what the
    # category typically pays: a price far above the category's is penalised, a premium segment not ruled out.
    typical = float(inputs.benchmark("price")["likely"])
    planned = float(inputs.entries["price"]["likely"])
    centre = (typical * planned) ** 0.5
    return {"source": "benchmark", "median": centre, "p10": centre * 0.45, "p90": centre * 2.4, "grade": "benchmark",
            "note": f"centred between the planned price and the domain's typical price (${typical:,.0f} a month)"}


def _cac(inputs: _Inputs, evidence: dict[str, Any]) -> None:
    found = ev.blended_cac(evidence)
    if found is None:
        return
    value, how = found
    field = "evidence.channels" if evidence.get("channels") else "evidence.cac"
    inputs.set("cac", low=value * 0.8, likely=value, high=value * 1.25, field=field, evidence=f"{how}: ${value:,.0f}")
    if evidence.get("channels") and evidence.get("cac"):
        inputs.not_used("evidence.cac", "the channels' blended CAC is used instead of the single figure")


def _churn(inputs: _Inputs, retention: dict[str, Any] | None, evidence: dict[str, Any]) -> None:
    if not retention:
        return
    spec = ev.churn_posterior(inputs.benchmark("churn"), retention)
    _, _, text = ev.churn_observations(retention)
    inputs.replace("churn", spec, evidence=text, field="retention")
    if retention.get("monthly_churn") is not None and retention.get("cohort"):
        inputs.not_used("retention.cohort", "the observed monthly churn is used; the cohort curve is not added to it")


def _financials(inputs: _Inputs, financials: dict[str, Any], tech: dict[str, Any], live: bool, sam: float) -> None:
    gm = financials.get("gross_margin")
    if gm is not None:
        inputs.set("gross_margin", low=max(gm - 0.03, -1.0), likely=gm, high=min(gm + 0.03, 1.0),
                   field="financials.gross_margin", distribution="triangular", evidence=f"stated gross margin {gm:.0%}")
    elif tech["facts"].get("hardware"):
        inputs.scale_benchmark("gross_margin", HARDWARE_MARGIN_FACTOR, "scaled for hardware (stated)")
    burn = financials.get("monthly_burn")
    if burn is not None:
        inputs.set("opex", low=burn * 0.9, likely=burn, high=burn * 1.1, field="financials.monthly_burn",
                   distribution="triangular", evidence=f"stated monthly burn ${burn:,.0f}")
    elif not live:
        # A company already selling has the costs it has (state them); its revenue follows its customers, not the SAM.
        scale = min(max((sam / OPEX_REFERENCE_SAM) ** OPEX_SCALE_POWER, OPEX_SCALE_BOUNDS[0]), OPEX_SCALE_BOUNDS[1])
        inputs.scale_benchmark("opex", scale, f"scaled x{scale:.2f} to the serviceable market's size")
    if live:
        inputs.set("upfront_cost", low=0.0, likely=0.0, high=0.0, field="evidence.traction",
                   evidence="the product is on sale: its build cost is already spent")
    elif tech["upfront_multiplier"] != 1.0:
        inputs.scale_benchmark("upfront_cost", tech["upfront_multiplier"],
                               f"scaled x{tech['upfront_multiplier']:.2f} for the stated technology")
    if financials.get("cash_on_hand") is not None and burn is None:
        inputs.not_used("financials.cash_on_hand", "runway needs a stated monthly_burn; the cash is reported only")

