"""Schemas for what the client knows: evidence (traction, prices, surveys, CAC, competitors, retention) and the
venture's facts (team, technology, financials). Every field is optional; unknown keys are refused."""

from __future__ import annotations

import itertools
import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from smvm.market.priors import INPUT_NAMES, physical_range
from smvm.schema_docs import documented

MAX_COMPETITORS = 50
MAX_SURVEY_ANSWERS = 1000
MAX_PRICE_POINTS = 100
MAX_CHANNELS = 20
MAX_STRENGTHS = 20
MAX_COHORT_POINTS = 36
MAX_USD = 1e12  # a price, a CAC, a burn or a cash balance above a trillion dollars is a unit error


class Finite(fields.Float):
    """A float that refuses NaN and ±inf, with one clear message."""

    default_error_messages = {"special": "Must be a finite number."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _validated(self, value: Any) -> float:
        out = super()._validated(value)
        if out is not None and not math.isfinite(out):
            raise self.make_error("special")
        return out


def _positive(**kwargs: Any) -> Finite:
    return Finite(validate=validate.Range(min=0, min_inclusive=False, max=MAX_USD,
                                          error="Must be greater than 0 and at most {max}."), **kwargs)


def _non_negative(**kwargs: Any) -> Finite:
    return Finite(validate=validate.Range(min=0, max=MAX_USD, error="Must be between 0 and {max}."), **kwargs)


def _share(**kwargs: Any) -> Finite:
    return Finite(validate=validate.Range(min=0, max=1, error="Must be between 0 and 1."), **kwargs)


def _count(*, minimum: int = 0, maximum: int = 10**9, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kwargs)


class CompetitorEvidenceSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    price = _non_negative(load_default=None)
    share = _share(load_default=None)
    strengths = fields.List(fields.String(validate=validate.Length(max=200)),
                            validate=validate.Length(max=MAX_STRENGTHS), load_default=list)


class VanWestendorpAnswerSchema(Schema):
    too_cheap = _non_negative(required=True)
    cheap = _non_negative(required=True)
    expensive = _positive(required=True)
    too_expensive = _positive(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        # Van Westendorp answers only mean something when the four thresholds are ordered.
        order = ("too_cheap", "cheap", "expensive", "too_expensive")
        values = [data[k] for k in order]
        if any(a > b for a, b in itertools.pairwise(values)):
            raise ValidationError("Answers must satisfy too_cheap <= cheap <= expensive <= too_expensive.",
                                  field_name="_schema")


class ChannelSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    cac = _positive(required=True)
    share = _share(required=True)


class TractionSchema(Schema):
    """Paying customers now, their monthly revenue, and the months the product has been on sale."""

    customers = _count(required=True)
    monthly_revenue = _non_negative(required=True)
    months = _count(required=True, minimum=1, maximum=240)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data["customers"] == 0 and data["monthly_revenue"] > 0:
            raise ValidationError("Revenue without paying customers: customers must be > 0 when monthly_revenue > 0.",
                                  field_name="monthly_revenue")
        if data["customers"] > 0 and data["monthly_revenue"] == 0:
            raise ValidationError("Paying customers bring revenue: monthly_revenue must be > 0 when customers > 0.",
                                  field_name="monthly_revenue")


class PriorOverrideSchema(Schema):
    low = Finite(required=True)
    likely = Finite(required=True)
    high = Finite(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if not data["low"] <= data["likely"] <= data["high"]:
            raise ValidationError("Must satisfy low <= likely <= high.", field_name="_schema")


class CohortPointSchema(Schema):
    month = _count(required=True, minimum=1, maximum=120)
    retained = Finite(required=True, validate=validate.Range(min=0, max=1, min_inclusive=False,
                                                             error="Must be greater than 0 and at most 1."))


class RetentionSchema(Schema):
    """Observed retention: an average monthly logo churn over a base of customers, or a cohort's retention curve."""

    monthly_churn = Finite(load_default=None, validate=validate.Range(
        min=0, max=1, max_inclusive=False, error="Must be at least 0 and below 1 (a monthly fraction)."))
    customers = _count(load_default=None, minimum=1)
    months = _count(load_default=None, minimum=1, maximum=240)
    cohort = fields.List(fields.Nested(CohortPointSchema), load_default=None,
                         validate=validate.Length(min=1, max=MAX_COHORT_POINTS))
    cohort_size = _count(load_default=None, minimum=1)

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("monthly_churn") is None and not data.get("cohort"):
            raise ValidationError("Give monthly_churn (with customers and months) or a cohort retention curve.",
                                  field_name="monthly_churn")
        if data.get("monthly_churn") is not None and (data.get("customers") is None or data.get("months") is None):
            raise ValidationError("monthly_churn needs the customers and months it was measured over.",
                                  field_name="customers" if data.get("customers") is None else "months")
        if data.get("cohort") and data.get("cohort_size") is None:
            raise ValidationError("A cohort curve needs the cohort's starting size.", field_name="cohort_size")
        points = sorted(data.get("cohort") or [], key=lambda p: p["month"])
        if any(b["retained"] > a["retained"] for a, b in itertools.pairwise(points)):
            raise ValidationError("Cohort retention cannot rise with age.", field_name="cohort")


class TeamSchema(Schema):
    founders = _count(load_default=None, minimum=0, maximum=20)
    relevant_experience_years = Finite(load_default=None, validate=validate.Range(min=0, max=60))
    prior_exits = _count(load_default=None, minimum=0, maximum=50)
    full_time = _count(load_default=None, minimum=0, maximum=100_000)


class TechnologySchema(Schema):
    hardware = fields.Boolean(load_default=None)
    regulatory_approval = fields.Boolean(load_default=None)
    novel_rnd = fields.Boolean(load_default=None)
    integrations = _count(load_default=None, minimum=0, maximum=200)


class FinancialsSchema(Schema):
    """The plan's own numbers. ``monthly_burn`` is the fixed monthly operating cost (team, tools, rent), without
    acquisition spend or the cost of goods; ``cash_on_hand`` includes committed funding."""

    monthly_burn = _non_negative(load_default=None)
    cash_on_hand = _non_negative(load_default=None)
    planned_price = _positive(load_default=None)
    gross_margin = Finite(load_default=None, validate=validate.Range(
        min=-1, max=1, error="Must be between -1 and 1 (a fraction of revenue; 1 means no cost of goods)."))


class EvidenceSchema(Schema):
    """Client evidence; every field optional. Unknown keys are rejected (marshmallow's default RAISE)."""

    competitors = fields.List(fields.Nested(CompetitorEvidenceSchema), validate=validate.Length(max=MAX_COMPETITORS))
    price_points = fields.List(_positive(), validate=validate.Length(min=1, max=MAX_PRICE_POINTS))
    wtp_survey = fields.List(fields.Nested(VanWestendorpAnswerSchema),
                             validate=validate.Length(min=1, max=MAX_SURVEY_ANSWERS))
    cac = _positive()
    channels = fields.List(fields.Nested(ChannelSchema), validate=validate.Length(min=1, max=MAX_CHANNELS))
    traction = fields.Nested(TractionSchema)
    priors = fields.Dict(keys=fields.String(), values=fields.Nested(PriorOverrideSchema))

    @documented("Keys are simulation inputs: " + ", ".join(INPUT_NAMES) + "; each override's low, likely and high "
                "lie within that input's physical range (churn in [0, 1), gross margin at most 1, prices above 0).",
                propertyNames={"enum": list(INPUT_NAMES)}, allOf=lambda _settings: [_physical_ranges_schema()])
    @validates("priors")
    def _known_inputs_in_range(self, value: dict[str, Any], **_: Any) -> None:
        unknown = sorted(set(value) - set(INPUT_NAMES))
        if unknown:
            raise ValidationError(f"Unknown input(s) {unknown}; known inputs are {list(INPUT_NAMES)}.")
        errors: dict[str, list[str]] = {}
        for name, override in value.items():
            problem = _outside_range(name, override)
            if problem:
                errors[name] = [problem]
        if errors:
            raise ValidationError(errors)

    @validates("competitors")
    def _unique_names(self, value: list[dict[str, Any]], **_: Any) -> None:
        # Field validators run even when a nested item failed, so items may lack keys here.
        names = [str(c.get("name", "")).strip().lower() for c in value if c.get("name")]
        if len(names) != len(set(names)):
            raise ValidationError("Competitor names must be unique.")
        total = sum(c.get("share") or 0.0 for c in value)
        if total > 1.0 + 1e-9:
            raise ValidationError("Competitor shares must sum to at most 1.")


def _physical_ranges_schema() -> dict[str, Any]:
    """Each input's physical range as JSON Schema on its override's low, likely and high. Under ``allOf`` so the
    dictionary's ``additionalProperties`` (the override's own shape) still applies to every key."""
    def bounds(name: str) -> dict[str, float]:
        limits = physical_range(name)
        return {("exclusiveMinimum" if limits["exclusive_min"] else "minimum"): limits["min"],
                ("exclusiveMaximum" if limits["exclusive_max"] else "maximum"): limits["max"]}

    return {"properties": {name: {"properties": dict.fromkeys(("low", "likely", "high"), bounds(name))}
                           for name in INPUT_NAMES}}


def _outside_range(name: str, override: dict[str, Any]) -> str | None:
    """Why an override leaves its input's physical range (churn in [0, 1), gross margin at most 1, ...), or None."""
    bounds = physical_range(name)
    for key in ("low", "likely", "high"):
        value = override.get(key)
        if value is None:
            continue
        if value < bounds["min"] or (bounds["exclusive_min"] and value == bounds["min"]):
            return f"{key} = {value:g} is below the physical range of {name}: {bounds['text']}."
        if value > bounds["max"] or (bounds["exclusive_max"] and value == bounds["max"]):
            return f"{key} = {value:g} is above the physical range of {name}: {bounds['text']}."
    return None
