"""Technical profile of an idea read from its text and domain: complexity, stack and integration drivers."""

from __future__ import annotations

import re
from typing import Any

# (label, weight, keywords, stack recommendation). Weights are complexity points; 0 points is a plain CRUD web app.
_DRIVERS: tuple[tuple[str, float, tuple[str, ...], str], ...] = (
    ("machine learning / AI", 1.0, ("ai", "a.i.", "machine learning", "ml model", "llm", "gpt", "neural", "predictive",
                                    "computer vision", "nlp", "recommendation engine"),
     "Python model service (PyTorch or scikit-learn) behind a versioned inference API; start with hosted LLM APIs"),
    ("blockchain / crypto", 1.5, ("blockchain", "crypto", "web3", "nft", "smart contract", "token"),
     "Use an established L2 or custody provider instead of running chain infrastructure"),
    ("hardware / devices", 1.5, ("hardware", "device", "sensor", "iot", "wearable", "robot", "drone"),
     "Off-the-shelf hardware with a cloud ingestion pipeline (MQTT) before any custom electronics"),
    ("regulated data", 1.0, ("hipaa", "fda", "pci", "kyc", "aml", "gdpr", "patient", "medical record", "ehr",
                             "banking", "lending", "insurance", "clinical"),
     "Compliance-ready cloud (SOC 2 / HIPAA-eligible services), audit logging and encryption from day one"),
    ("third-party integrations", 0.5, ("integrat", "api", "erp", "crm", "sync", "plugin", "connector", "shopify",
                                       "salesforce", "quickbooks"),
     "An integration layer with per-connector adapters and webhook retries; prefer unified APIs (e.g. Merge, Plaid)"),
    ("real-time processing", 0.5, ("real-time", "realtime", "live", "streaming", "low latency", "instant"),
     "Event streaming (Kafka or Redis Streams) with idempotent consumers"),
    ("two-sided marketplace", 0.5, ("marketplace", "two-sided", "buyers and sellers", "matching", "peer-to-peer"),
     "Payments and payouts via a marketplace provider (Stripe Connect); trust and safety tooling early"),
    ("mobile apps", 0.3, ("mobile", "ios", "android", "app store", "smartphone"),
     "One cross-platform client (React Native or Flutter) over the same API as the web app"),
)

_DOMAIN_BASE = {"healthcare": 0.5, "finance": 0.5, "technology": 0.3}


def technical_profile(idea: dict[str, Any], domain: str) -> dict[str, Any]:
    """Complexity (0..5), feasibility score (0..100), drivers and stack advice for an idea.

    Pure keyword reasoning over the idea's text; it is explicit about which words triggered which driver so a
    reader can disagree with it.
    """
    text = " ".join(str(idea.get(k) or "") for k in
                    ("title", "description", "value_proposition", "competitive_advantage", "target_market")).lower()
    drivers = []
    complexity = _DOMAIN_BASE.get(domain, 0.0)
    for label, weight, words, stack in _DRIVERS:
        matched = sorted({w for w in words if re.search(r"(?<![a-z])" + re.escape(w), text)})
        if matched:
            complexity += weight
            drivers.append({"driver": label, "weight": weight, "matched": matched, "recommendation": stack})
    complexity = min(complexity, 5.0)
    integrations = next((d for d in drivers if d["driver"] == "third-party integrations"), None)
    integration_level = "high" if integrations and len(integrations["matched"]) >= 2 else (
        "medium" if integrations else "low")
    return {
        "complexity": round(complexity, 3),
        "feasibility_score": round(max(0.0, 100.0 - 13.0 * complexity), 3),
        "upfront_multiplier": round(1.0 + 0.25 * complexity, 4),
        "drivers": drivers,
        "integration_complexity": integration_level,
        "domain_base": _DOMAIN_BASE.get(domain, 0.0),
    }
