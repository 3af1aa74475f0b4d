"""Technical profile of an idea from its stated technology facts; the idea's text only yields hints to state them."""

from __future__ import annotations

import re
from typing import Any

# (fact, complexity points, launch delay in months, upfront-cost factor, stack advice). Points: 0 is a plain web app.
_FACTS: tuple[tuple[str, float, float, float, str], ...] = (
    ("hardware", 1.5, 4.0, 1.6,
     "Off-the-shelf hardware with a cloud ingestion pipeline (MQTT) before any custom electronics"),
    ("regulatory_approval", 1.0, 9.0, 1.4,
     "Plan the approval path first (e.g. FDA 510(k), a payments licence); compliance-ready cloud and audit logging"),
    ("novel_rnd", 1.5, 6.0, 1.5,
     "De-risk the research with a time-boxed prototype before building the product around it"),
)
_INTEGRATION_POINTS = 0.1  # per third-party system to integrate, capped below
_INTEGRATION_CAP = 1.0
_INTEGRATION_DELAY = 0.25  # months per integration, capped below
_INTEGRATION_DELAY_CAP = 3.0
_DOMAIN_BASE = {"healthcare": 0.5, "finance": 0.5, "technology": 0.3}

# Words that suggest a fact the client did not state. They never change a number: they only say which fact to state.
_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hardware", ("hardware", "device", "sensor", "wearable", "robot", "drone", "gadget")),
    ("regulatory_approval", ("fda", "hipaa", "licence", "license", "regulator", "clinical", "approval")),
    ("novel_rnd", ("quantum", "breakthrough", "novel", "research", "patent")),
    ("integrations", ("integrat", "api", "erp", "crm", "sync", "connector", "plugin")),
)


def technical_profile(technology: dict[str, Any], idea: dict[str, Any], domain: str) -> dict[str, Any]:
    """Complexity (0..5), feasibility (0..100), launch delay, upfront-cost factor, drivers and stack advice.

    Only the stated ``technology`` facts (hardware, regulatory_approval, novel_rnd, integrations) move a number;
    keywords in the idea's text become ``hints`` naming the fact to state, so rewording an idea never changes it.
    """
    drivers = []
    complexity = _DOMAIN_BASE.get(domain, 0.0)
    delay = 0.0
    upfront = 1.0
    for fact, points, months, factor, stack in _FACTS:
        if technology.get(fact):
            complexity += points
            delay += months
            upfront *= factor
            drivers.append({"driver": fact, "weight": points, "recommendation": stack})
    integrations = int(technology.get("integrations") or 0)
    if integrations:
        points = min(_INTEGRATION_POINTS * integrations, _INTEGRATION_CAP)
        complexity += points
        delay += min(_INTEGRATION_DELAY * integrations, _INTEGRATION_DELAY_CAP)
        upfront *= 1.0 + 0.05 * min(integrations, 20)
        drivers.append({"driver": "integrations", "weight": round(points, 3), "count": integrations,
                        "recommendation": "An integration layer with per-connector adapters and webhook retries; "
                                          "prefer unified APIs (e.g. Merge, Plaid)"})
    complexity = min(complexity, 5.0)
    return {
        "stated": bool(technology),
        "facts": dict(technology),
        "complexity": round(complexity, 3),
        "feasibility_score": round(max(0.0, 100.0 - 13.0 * complexity), 3),
        "launch_delay_months": round(delay, 3),
        "upfront_multiplier": round(upfront, 4),
        "drivers": drivers,
        "integration_complexity": "high" if integrations >= 5 else "medium" if integrations else "low",
        "domain_base": _DOMAIN_BASE.get(domain, 0.0),
        "hints": _hints(technology, idea),
    }


def _hints(technology: dict[str, Any], idea: dict[str, Any]) -> list[dict[str, Any]]:
    text = " ".join(str(idea.get(k) or "") for k in ("description", "value_proposition", "target_market")).lower()
    hints = []
    for fact, words in _HINTS:
        if fact in technology:
            continue
        matched = sorted({w for w in words if re.search(r"(?<![a-z])" + re.escape(w), text)})
        if matched:
            hints.append({"fact": f"technology.{fact}", "matched": matched,
                          "message": f"The text mentions {', '.join(repr(w) for w in matched)}; state "
                                     f"technology.{fact} so the simulation can count it (text alone never does)."})
    return hints
