"""Plain names, units and the glossary: how every number in a report is named and written for a founder."""

from __future__ import annotations

import math
import re
from typing import Any

from smvm.formatting import money


def share(p: float | None) -> str:
    """A probability or share in percent; never "0%" or "100%" for something that merely rounds there."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if p <= 0.0:
        return "0%"
    if p >= 1.0:
        return "100%"
    if p < 0.005:
        return "<1%"
    if p > 0.995:
        return ">99%"
    return f"{p:.0%}"


def dollars(x: float | None) -> str:
    """Money for prose and tables: ``$1.2M``, ``-$350k``, ``$80``; ``$500k`` rather than ``$500.0k``."""
    return money(x).replace(".0k", "k").replace(".0M", "M").replace(".0B", "B")


def ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}x"


def months(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "not within 36 months" if x > 36 else f"month {x:.0f}"


def _exact_dollars(x: float) -> str:
    # Inputs are read against each other ("CAC at $1,998, now $599"): below $10k every dollar shows.
    return f"-${-x:,.0f}" if x < 0 and x > -10_000 else f"${x:,.0f}" if x < 10_000 else dollars(x)


def lower_name(name: str) -> str:
    """The short name inside a sentence: "monthly churn", "acquisition cost (CAC)"."""
    text = short_name(name)
    return text[:1].lower() + text[1:]


def plain(text: str) -> str:
    """Text written by other stages, with any engine name of an input replaced by its plain name."""
    return _CODE_NAME.sub(lambda m: lower_name(m.group(0)), text)


#: Each simulated input: its plain name and how one of its values is written (unit included).
INPUTS: dict[str, tuple[str, str]] = {
    "market_size": ("Serviceable market, as a multiple of your SAM estimate", "multiple"),
    "price": ("Price per customer account", "usd_month"),
    "wtp_level": ("Willingness to pay, as a multiple of the segments' estimate", "multiple"),
    "product_advantage": ("Product advantage over a typical competitor (buyer-preference units)", "utility"),
    "churn": ("Monthly churn: share of customers lost each month", "pct_month"),
    "expansion": ("Monthly growth of revenue from existing customers", "pct_month"),
    "cac": ("Customer acquisition cost (CAC) per new account", "usd"),
    "bass_p": ("Early adoption: buyers who come unprompted, per month", "pct_month"),
    "bass_q": ("Word of mouth: buyers brought by existing customers, per month", "pct_month"),
    "gross_margin": ("Gross margin", "pct"),
    "opex": ("Fixed costs per month (team, tools, rent)", "usd_month"),
    "upfront_cost": ("Cost to build the first sellable version", "usd"),
    "competitor_strength": ("Competitors' strength (buyer-preference units)", "utility"),
    "discount_rate": ("Discount rate investors apply, per year", "pct_year"),
    "shock_volatility": ("Month-to-month demand luck (volatility)", "pct_month"),
    "landscape": ("Which synthetic segment and competitor mix a future draws", "none"),
    "monthly_shocks": ("Month-to-month demand luck (the 36 monthly shocks)", "none"),
}
#: Short names for charts and narrow table columns.
SHORT: dict[str, str] = {
    "market_size": "Market size", "price": "Price", "wtp_level": "Willingness to pay",
    "product_advantage": "Product advantage", "churn": "Monthly churn", "expansion": "Account expansion",
    "cac": "Acquisition cost (CAC)", "bass_p": "Early adoption", "bass_q": "Word of mouth",
    "gross_margin": "Gross margin", "opex": "Fixed costs", "upfront_cost": "Build cost",
    "competitor_strength": "Competitor strength", "discount_rate": "Discount rate",
    "shock_volatility": "Demand volatility", "landscape": "Synthetic landscape", "monthly_shocks": "Monthly luck",
}


# Only names no sentence uses as a plain word ("churn" and "price" are both).
_CODE_NAME = re.compile(r"\b(" + "|".join(sorted((n for n in SHORT if "_" in n or n == "opex"), key=len,
                                                  reverse=True)) + r")\b")


def input_name(name: str) -> str:
    return INPUTS.get(name, (name.replace("_", " ").capitalize(), "none"))[0]


def short_name(name: str) -> str:
    return SHORT.get(name, name.replace("_", " ").capitalize())


def input_value(name: str, value: float, spec: dict[str, Any] | None = None) -> str:
    """One value of an input, written with its unit (``2.1%/month``, ``$600``, ``x1.15``)."""
    if spec is not None and spec.get("distribution") == "gamma":
        return f"{value:,.0f} customers"  # traction: the posterior is the expected customer count, not a rate
    kind = INPUTS.get(name, ("", "none"))[1]
    if kind == "usd_month":
        return f"{_exact_dollars(value)}/month"
    if kind == "usd":
        return _exact_dollars(value)
    if kind == "pct_month":
        return f"{value:.2%}/month" if abs(value) < 0.01 else f"{value:.1%}/month"
    if kind == "pct_year":
        return f"{value:.0%}/year"
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "multiple":
        return f"x{value:.2f}"
    if kind == "utility":
        return f"{value:+.2f}"
    return f"{value:.3g}"


#: What a client observes at T0+30, named as a founder would.
OBSERVATIONS: dict[str, str] = {
    "paying_customers": "Paying customers", "churned_customers": "Customers lost (churned)",
    "mrr": "Monthly recurring revenue (MRR)", "acquisition_spend": "Acquisition spend",
    "visitors": "Visitors", "signups": "Sign-ups", "trials": "Trials", "price_tests": "Price tests",
    "survey": "Willingness-to-pay survey",
}
_MONEY_OBSERVATIONS = ("mrr", "acquisition_spend")


def observation_name(name: str) -> str:
    return OBSERVATIONS.get(name, name.replace("_", " ").capitalize())


def observation_value(name: str, value: float) -> str:
    """An observed or forecast metric: every dollar and every customer shows; a forecast under 10 keeps a decimal
    (0.6 to 1.3 churned customers, not "1 to 1")."""
    if name in _MONEY_OBSERVATIONS:
        return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"
    return f"{value:,.0f}" if value >= 10 or float(value).is_integer() else f"{value:,.1f}"


#: The terms a report may use, in plain words. A report prints only the ones it uses.
GLOSSARY: dict[str, str] = {
    "ARR": "Annual recurring revenue: this month's subscription revenue x 12.",
    "Benchmark": "A typical value for your domain from published sources, used where you gave no evidence.",
    "Break-even": "The first month in which revenue after direct costs covers acquisition spend and fixed costs.",
    "CAC": "Customer acquisition cost: sales and marketing spent to win one new paying account.",
    "CAC payback": "Months of gross profit from one customer needed to earn back its acquisition cost.",
    "Calibration record": "How often what clients later observed fell inside the ranges SMVM forecast at T0, over "
                          "every run scored so far: a forecast that is neither over- nor under-confident has about "
                          "80 % of observations inside its 80 % ranges.",
    "Churn": "The share of paying customers who leave in a month.",
    "Contribution to variance": "How much of the spread in NPV one input accounts for (Sobol index): alone, and "
                                "together with its interactions with other inputs.",
    "Funding need": "The most cash the plan consumes before it turns cash-positive within 36 months (the deepest "
                    "point of cumulative cash flow, before any cash you already have).",
    "Gross margin": "Revenue minus the direct cost of serving customers, as a share of revenue.",
    "HHI": "Herfindahl-Hirschman index of market concentration: the sum of squared market shares in percent "
           "(below 1,500 unconcentrated, above 2,500 highly concentrated).",
    "LTV/CAC": "Lifetime value of a customer (gross profit over its expected life, capped at 60 months) divided by "
               "the cost of acquiring it. Below 1 each customer loses money; GO needs at least 3.",
    "MRR": "Monthly recurring revenue: this month's subscription revenue.",
    "NPV": "Net present value: 36 months of cash flows plus what the customer base is then worth, in today's "
           "dollars after the discount rate. Above 0 the plan creates value.",
    "P10 / P50 / P90": "Percentiles across simulated futures: 10 % of futures fall below P10, half below P50 (the "
                       "median), 90 % below P90. P10 to P90 holds 8 futures in 10.",
    "P(...)": "The probability of what is in brackets across plausible futures: P(KILL) is the share of futures "
              "that reach KILL, P(NPV>0) the share in which the plan creates value.",
    "Percentile in the T0 forecast": "Where an observed value falls among the values the T0 forecast allowed, "
                                     "counting a single month's chance variation: P50 is the middle; below P10 or "
                                     "above P90 is outside the forecast's 80 % range.",
    "Plausible future": "One simulated world: every unknown input takes one value drawn from your evidence or, "
                        "where you gave none, from a benchmark.",
    "Prior / posterior": "The benchmark range before your evidence (prior) and the range after your evidence "
                         "updated it by Bayes' rule (posterior).",
    "SAM": "Serviceable addressable market: yearly revenue if every account you can serve bought at your price.",
    "SOM": "Serviceable obtainable market: the yearly revenue you aim to reach; here compared with ARR at month 36.",
    "Synthetic": "Invented by the simulation to stand for what is not known (customer segments, unnamed "
                 "competitors); never a real customer or company.",
    "T0": "The day of the validation. About a month later (T0+30) you report what you observed, and the verdict is "
          "updated with it.",
    "TAM": "Total addressable market: yearly revenue of the whole market.",
    "Tornado": "A chart of how far NPV moves when one input goes from its P10 to its P90 with all others at their "
               "median.",
    "Willingness to pay": "The most a buyer would pay per month; the share of the market whose willingness to pay "
                          "is above your price is the share that can buy.",
}
#: How a glossary term shows up in text (so only terms the report uses are printed).
_TERM_PATTERNS = {
    "ARR": r"\bARR\b", "Benchmark": r"\bbenchmark", "Break-even": r"\bbreak-even\b", "CAC": r"\bCAC\b",
    "CAC payback": r"\bCAC payback\b|\bpaid back\b", "Calibration record": r"\bcalibration record\b",
    "Churn": r"\bchurn\b", "Contribution to variance": r"contribution to variance",
    "Funding need": r"\bfunding need\b", "Gross margin": r"\bgross margin\b", "HHI": r"\bHHI\b",
    "LTV/CAC": r"\bLTV/CAC\b", "MRR": r"\bMRR\b", "NPV": r"\bNPV\b", "P10 / P50 / P90": r"\bP(?:10|50|90)\b",
    "P(...)": r"\bP\((?:GO|PIVOT|KILL|NPV)", "Percentile in the T0 forecast": r"\bpercentile in the T0 forecast\b",
    "Plausible future": r"\bplausible futures?\b", "Prior / posterior": r"\bprior\b|\bposterior\b",
    "SAM": r"\bSAM\b", "SOM": r"\bSOM\b", "Synthetic": r"\bsynthetic\b", "T0": r"\bT0\b", "TAM": r"\bTAM\b",
    "Tornado": r"\btornado\b", "Willingness to pay": r"\bwillingness to pay\b",
}


def glossary_for(text: str) -> list[dict[str, str]]:
    """The glossary entries whose terms appear in ``text``, alphabetically."""
    return [{"term": term, "meaning": GLOSSARY[term]} for term in sorted(GLOSSARY, key=str.lower)
            if re.search(_TERM_PATTERNS[term], text, flags=re.IGNORECASE)]


#: Engine and statistics names that must never reach a reader unexplained (tests scan the founder's text for them).
CODE_NAMES = ("bass_p", "bass_q", "wtp_level", "monthly_shocks", "shock_volatility", "product_advantage",
              "competitor_strength", "upfront_cost", "discount_rate", "market_size", "Sobol", "ST ", "S1",
              "p_npv_positive", "npv_p50", "arr_36", "ltv_cac_p50")
