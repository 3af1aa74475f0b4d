"""Marshmallow schema for the optional client evidence that narrows the market priors."""

from __future__ import annotations

import itertools
import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from smvm.market.priors import INPUT_NAMES

MAX_COMPETITORS = 50
MAX_SURVEY_ANSWERS = 1000
MAX_PRICE_POINTS = 100
MAX_CHANNELS = 20
MAX_STRENGTHS = 20


class _Finite(fields.Float):
    """A float that refuses NaN and ±inf, with one clear message."""

    default_error_messages = {"special": "Must be a finite number."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, **kwargs)

    def _validated(self, value: Any) -> float:
        out = super()._validated(value)
        if out is not None and not math.isfinite(out):
            raise self.make_error("special")
        return out


def _positive(**kwargs: Any) -> _Finite:
    return _Finite(validate=validate.Range(min=0, min_inclusive=False, error="Must be greater than 0."), **kwargs)


def _non_negative(**kwargs: Any) -> _Finite:
    return _Finite(validate=validate.Range(min=0, error="Must be 0 or greater."), **kwargs)


def _share(**kwargs: Any) -> _Finite:
    return _Finite(validate=validate.Range(min=0, max=1, error="Must be between 0 and 1."), **kwargs)


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
    customers = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**9))
    monthly_revenue = _non_negative(required=True)
    months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=240))


class PriorOverrideSchema(Schema):
    low = _Finite(required=True)
    likely = _Finite(required=True)
    high = _Finite(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if not data["low"] <= data["likely"] <= data["high"]:
            raise ValidationError("Must satisfy low <= likely <= high.", field_name="_schema")


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

    @validates("priors")
    def _known_inputs(self, value: dict[str, Any], **_: Any) -> None:
        unknown = sorted(set(value) - set(INPUT_NAMES))
        if unknown:
            raise ValidationError(f"Unknown input(s) {unknown}; known inputs are {list(INPUT_NAMES)}.")

    @validates("competitors")
    def _unique_names(self, value: list[dict[str, Any]], **_: Any) -> None:
        # Field validators run even when a nested item failed, so items may lack keys here.
        names = [str(c.get("name", "")).strip().lower() for c in value if c.get("name")]
        if len(names) != len(set(names)):
            raise ValidationError("Competitor names must be unique.")
        total = sum(c.get("share") or 0.0 for c in value)
        if total > 1.0 + 1e-9:
            raise ValidationError("Competitor shares must sum to at most 1.")
