"""Domain benchmark priors shipped as data, and domain inference from idea text."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

DOMAINS: tuple[str, ...] = (
    "finance",
    "healthcare",
    "retail",
    "technology",
    "saas",
    "marketplace",
    "consumer_subscription",
    "other",
)

_PRIORS_PATH = Path(__file__).with_name("data") / "priors.json"

# Keyword lists are deliberately short and specific: a false domain match is worse than "other",
# because the domain's priors then masquerade as evidence-free benchmarks for the wrong business.
_DOMAIN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "finance": ("fintech", "bank", "payment", "lending", "loan", "credit", "invest", "insurance", "accounting",
                "invoice", "trading", "wealth", "finance", "financial", "budget", "tax"),
    "healthcare": ("health", "patient", "clinic", "hospital", "medical", "doctor", "nurse", "therapy", "pharma",
                   "diagnos", "telehealth", "wellness", "care", "hipaa", "fda"),
    "retail": ("retail", "store", "shop", "e-commerce", "ecommerce", "merchant", "inventory", "grocery", "fashion",
               "apparel", "point of sale"),
    "marketplace": ("marketplace", "two-sided", "buyers and sellers", "connects", "gig", "freelancer", "booking",
                    "listing", "peer-to-peer"),
    "consumer_subscription": ("subscription", "subscribers", "consumers", "streaming", "meal kit", "app for",
                              "monthly box", "membership", "fitness app", "dating"),
    "saas": ("saas", "b2b", "software", "dashboard", "crm", "workflow", "platform for teams", "teams",
             "automation", "per seat", "self-serve"),
    "technology": ("api", "developer", "infrastructure", "cloud", "devops", "database", "sdk", "ai model",
                   "machine learning", "observability", "security", "iot"),
}


@functools.cache
def _load() -> dict[str, Any]:
    with _PRIORS_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def priors_version() -> str:
    """Version string of the shipped priors data."""
    return str(_load()["version"])


def input_definitions() -> dict[str, dict[str, str]]:
    """Every uncertain input's distribution family, unit and description (a fresh copy)."""
    return copy.deepcopy(_load()["inputs"])


INPUT_NAMES: tuple[str, ...] = tuple(_load()["inputs"].keys())


def physical_range(name: str) -> dict[str, Any]:
    """The values input ``name`` can physically take (churn in [0, 1), gross margin at most 1, ...), with a text
    form for error messages.

    :raises KeyError: if ``name`` is not one of :data:`INPUT_NAMES`.
    """
    bounds = dict(_load()["inputs"][name]["range"])
    left = "(" if bounds["exclusive_min"] else "["
    right = ")" if bounds["exclusive_max"] else "]"
    bounds["text"] = f"{left}{bounds['min']:g}, {bounds['max']:g}{right} {_load()['inputs'][name]['unit']}"
    return bounds


def domain_priors(domain: str) -> dict[str, dict[str, Any]]:
    """The benchmark priors of ``domain`` as ``{input: {low, likely, high, source, distribution, unit}}``.

    :raises KeyError: if ``domain`` is not one of :data:`DOMAINS`.
    """
    data = _load()
    raw = data["domains"][domain]["priors"]
    out: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        entry = dict(spec)
        entry.update(data["inputs"][name])
        out[name] = entry
    return out


def market_defaults(domain: str) -> dict[str, Any]:
    """TAM and SAM/SOM fractions used when the client gives no figures."""
    return dict(_load()["domains"][domain]["market_defaults"])


def infer_domain(text: str) -> tuple[str, dict[str, int]]:
    """Best-matching domain for free text, with the keyword hit count per domain.

    Ties and no hits fall back to ``other`` so inference never guesses on no evidence.
    """
    lowered = text.lower()
    hits: dict[str, int] = {}
    for domain, words in _DOMAIN_KEYWORDS.items():
        count = sum(1 for w in words if re.search(r"\b" + re.escape(w), lowered))
        if count:
            hits[domain] = count
    if not hits:
        return "other", hits
    ranked = sorted(hits.items(), key=lambda kv: (-kv[1], DOMAINS.index(kv[0])))
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1] and ranked[0][1] < 2:
        return "other", hits
    return ranked[0][0], hits
