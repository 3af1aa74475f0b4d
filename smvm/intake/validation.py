"""Turn a request body into the normalized request, and run the T0 idea checks on it."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from marshmallow import Schema, ValidationError

from smvm.config import Settings
from smvm.contracts import ValidationResult
from smvm.errors import RequestValidationError
from smvm.intake.schemas import (
    MAX_SOM_SHARE,
    CanonicalRequestSchema,
    LegacyRequestSchema,
    TractionBuildProjectSchema,
)
from smvm.privacy.pii import scrub_request
from smvm.webhooks import policy
from smvm.webhooks.errors import DestinationRejectedError

GATE_MIN_TAM = 1_000_000  # the seed's T0+3 gate: "Market Size: >= $1M TAM validation"
_VAGUE_WORDS = {"thing", "stuff", "something", "app", "platform", "idea", "etc", "whatever", "tbd", "todo"}


def _schema_for(body: dict[str, Any], max_iterations: int) -> Schema:
    if "business_idea" in body:
        return _with_cap(CanonicalRequestSchema, max_iterations)
    if "idea" in body:
        return _with_cap(LegacyRequestSchema, max_iterations)
    if "name" in body or "hypothesis" in body or "target_avatars" in body:
        return _with_cap(TractionBuildProjectSchema, max_iterations)
    raise RequestValidationError(
        "Unrecognised request shape: send business_idea (canonical), idea (legacy) or name+description (TractionBuild project).",
        details={"business_idea": ["Missing data for required field."]},
    )


@functools.lru_cache(maxsize=32)
def _with_cap(schema_class: type[Schema], max_iterations: int) -> Schema:
    """One schema instance per shape and cap: building marshmallow schemas and their nested fields costs more
    than loading a body with them. ``load`` keeps no per-call state on the instance, so threads may share it."""
    schema = schema_class()
    schema.fields["configuration"].schema.max_iterations = max_iterations  # type: ignore[attr-defined]
    return schema


def parse_request(body: Any, *, max_iterations: int = 1_000_000) -> dict[str, Any]:
    """Validate any of the three accepted shapes and return the normalized request.

    Collects every field error (schema and market-size consistency) before raising.

    :raises RequestValidationError: with ``details`` mapping dotted field paths to messages.
    """
    if not isinstance(body, dict):
        raise RequestValidationError("Request body must be a JSON object.", details={"_schema": ["Invalid input type."]})
    schema = _schema_for(body, max_iterations)
    try:
        request = schema.load(body)
    except ValidationError as exc:
        raise RequestValidationError("Request payload is invalid.", details=_flatten(exc.messages)) from exc
    errors = _market_size_errors(request["idea"], prefix="business_idea" if "business_idea" in body else "idea")
    if errors:
        raise RequestValidationError("Market sizes are inconsistent.", details=errors)
    # PII never gets past intake: not into rows, events, artifacts or logs.
    return _storable(scrub_request(request))


def _storable(value: Any) -> Any:
    """NUL becomes U+FFFD: PostgreSQL text cannot hold it, and fields with no plain-text rule may carry it (the
    plain-text ones refuse it, as the OpenAPI document says)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested marshmallow messages as ``{"business_idea.estimated_tam": [...]}`` so clients see the field path."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            # A nested "_schema" error belongs to the field that holds the nested object.
            path = prefix if key == "_schema" and prefix else f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                flat[path] = list(value)
            else:
                flat.update(_flatten(value, path))
    elif isinstance(messages, list):
        flat[prefix or "_schema"] = [str(item) for item in messages]
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


#: The market-size rule intake applies after the schema (stated in the OpenAPI document, api/openapi.py).
MARKET_SIZE_RULE = ("Market sizes must be consistent: estimated_sam at most estimated_tam, estimated_som at most "
                    "estimated_sam (and at most estimated_tam); otherwise 400.")


def _market_size_errors(idea: dict[str, Any], prefix: str) -> dict[str, list[str]]:
    tam, sam, som = idea["estimated_tam"], idea["estimated_sam"], idea["estimated_som"]
    errors: dict[str, list[str]] = {}
    if sam is not None and tam is not None and sam > tam:
        errors[f"{prefix}.estimated_sam"] = ["Must not exceed estimated_tam (SAM <= TAM)."]
    if som is not None and sam is not None and som > sam:
        errors[f"{prefix}.estimated_som"] = ["Must not exceed estimated_sam (SOM <= SAM)."]
    elif som is not None and tam is not None and som > tam:
        errors[f"{prefix}.estimated_som"] = ["Must not exceed estimated_tam (SOM <= TAM)."]
    elif som is not None and sam is not None and som > MAX_SOM_SHARE * sam:
        errors[f"{prefix}.estimated_som"] = [
            f"Must be at most {MAX_SOM_SHARE:.0%} of estimated_sam: no new venture obtains more than that share of "
            "its serviceable market within the 36-month horizon (see MAX_SOM_SHARE)."]
    return errors


def fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of the normalized request: the same idea sent twice has the same fingerprint."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: A claimed SOM above this share of the SAM needs paying customers behind it to be believed.
SOM_SHARE_NEEDS_EVIDENCE = 0.10
#: Months of runway below which the plan depends on raising money now.
SHORT_RUNWAY_MONTHS = 6
_PRICE_IN_TEXT = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?\s*(?:/|per|a|an)\s*(?:month|mo\b|year|yr\b|seat|user)", re.I)


def validate_idea(request: dict[str, Any]) -> ValidationResult:
    """T0 business-logic checks: gate failures, doubts, vague text and recommendations.

    A check is ``failed`` when the client's own facts break a rule no simulation can rescue (the contract's $1M
    TAM gate, a negative gross margin); ``failed`` makes ``business_logic_check`` failed, and the decision KILLs on
    it. Softer doubts are warnings. Never raises for a valid schema.
    """
    idea = request["idea"]
    evidence = request.get("evidence") or {}
    facts = request.get("facts") or {}
    financials = facts.get("financials") or {}
    issues: list[dict[str, str]] = []
    recommendations: list[str] = []

    def flag(code: str, field: str, message: str, severity: str, advice: str | None = None) -> None:
        issues.append({"code": code, "field": field, "message": message, "severity": severity})
        if advice:
            recommendations.append(advice)

    tam, sam, som = idea["estimated_tam"], idea["estimated_sam"], idea["estimated_som"]
    if tam is None:
        flag("tam_missing", "estimated_tam", "No TAM given; the domain benchmark will be used.", "info",
             "Provide an estimated TAM with its source so the market gate rests on evidence, not a benchmark.")
    elif tam < GATE_MIN_TAM:
        flag("tam_below_gate", "estimated_tam", f"TAM ${tam:,.0f} is below the $1M T0+3 gate.", "failed",
             "Broaden the target market or revisit the TAM estimate: the gate requires at least $1M.")
    if sam is None or som is None:
        flag("funnel_incomplete", "estimated_sam", "SAM or SOM missing; they will be derived from domain ratios.", "info",
             "Estimate SAM and SOM bottom-up (reachable customers x price) to tighten the simulation.")
    elif som > SOM_SHARE_NEEDS_EVIDENCE * sam and not (evidence.get("traction") or {}).get("customers"):
        flag("som_share_unsupported", "estimated_som",
             f"SOM is {som / sam:.0%} of SAM with no paying customers behind it.", "medium",
             f"A SOM above {SOM_SHARE_NEEDS_EVIDENCE:.0%} of SAM within three years needs evidence (distribution, "
             "paying customers); the simulation forecasts from the market, not from the SOM.")
    gross_margin = financials.get("gross_margin")
    if gross_margin is not None and gross_margin < 0:
        flag("gross_margin_negative", "financials.gross_margin",
             f"Gross margin {gross_margin:.0%}: every sale loses money before any fixed cost.", "failed",
             "Fix the cost of goods or the price so that each sale makes money before scaling anything.")
    burn, cash = financials.get("monthly_burn"), financials.get("cash_on_hand")
    if burn and cash is not None:
        traction = evidence.get("traction") or {}
        net = burn - 0.5 * float(traction.get("monthly_revenue") or 0.0)
        if net > 0 and cash / net < SHORT_RUNWAY_MONTHS:
            flag("runway_short", "financials.cash_on_hand", f"About {cash / net:.1f} months of runway at the stated "
                 "burn.", "medium", "Raise or cut the burn before anything else: the plan depends on new money now.")
    price = financials.get("planned_price")
    survey = evidence.get("wtp_survey") or []
    if price and survey:
        too_expensive = sorted(answer["too_expensive"] for answer in survey)[len(survey) // 2]
        if price > too_expensive:
            flag("price_above_survey", "financials.planned_price", f"The planned price ${price:,.2f} is above what "
                 f"half the surveyed buyers call too expensive (${too_expensive:,.2f}).", "high",
                 "Re-price within the survey's acceptable range, or show buyers who pay the planned price.")
    if price is None and _PRICE_IN_TEXT.search(idea["description"]):
        flag("price_in_text", "financials.planned_price", "The description mentions a price, but the simulation uses "
             "stated facts only.", "info", "State the price as financials.planned_price.")

    words = re.findall(r"[A-Za-z][A-Za-z'-]+", idea["description"])
    if len(words) < 8:
        flag("description_vague", "description", f"Description has only {len(words)} words.", "medium",
             "Describe the customer, the problem, the product and how it makes money in two or three sentences.")
    elif sum(word.lower() in _VAGUE_WORDS for word in words) / len(words) > 0.25:
        flag("description_vague", "description", "Description is mostly generic words.", "medium",
             "Replace generic words with the specific customer, problem and mechanism.")
    if not (idea["target_market"] or idea["target_customers"] or idea["target_avatars"]):
        flag("target_market_missing", "target_market", "No target market or customer given.", "medium",
             "Name the first customer segment you will sell to.")
    if not (idea["value_proposition"] or idea["competitive_advantage"] or idea["hypothesis"]):
        flag("value_proposition_missing", "value_proposition", "No value proposition or advantage given.", "low",
             "State why customers would switch from what they use today.")

    severities = {issue["severity"] for issue in issues}
    risk = "high" if severities & {"failed", "high"} else "medium" if "medium" in severities else "low"
    business_check = "failed" if "failed" in severities else "warning" if severities & {"high", "medium"} else "passed"
    if not recommendations:
        recommendations.append("Proceed to market simulation; no T0 issues found.")
    return {
        "schema_compliance": "passed",
        "business_logic_check": business_check,
        "risk_assessment": risk,
        "issues": issues,
        "recommendations": recommendations,
    }


def check_callback_url(request: dict[str, Any], settings: Settings) -> None:
    """Apply the SSRF policy's offline checks to the callback URL at submission: scheme, credentials, port and any
    address written in the URL. Names are resolved and checked at delivery, so intake never waits on DNS.

    :raises RequestValidationError: naming the callback field and the rule it broke.
    """
    url = request["metadata"].get("callback_url")
    if not url:
        return
    field = "metadata.callback_url" if request["metadata"]["request_shape"] == "canonical" else "callback_url"
    try:
        policy.check_callback_url(url, settings)
    except DestinationRejectedError as exc:
        raise RequestValidationError("callback_url is not an allowed destination.", details={field: [exc.message]}) from exc
