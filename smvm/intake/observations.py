"""What the client observed in its first weeks on the market (T0+30 ``observed_metrics``): a validated, documented
object; every field optional, each with its unit."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from smvm.intake.evidence import MAX_USD, Finite, VanWestendorpAnswerSchema

MAX_COUNT = 10**9
MAX_PRICE_TESTS = 20
MAX_WINDOW_DAYS = 365


def _count(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_COUNT), **kwargs)


def _usd(**kwargs: Any) -> Finite:
    return Finite(validate=validate.Range(min=0, max=MAX_USD, error="Must be between 0 and {max} USD."), **kwargs)


class PriceTestSchema(Schema):
    price = Finite(required=True, validate=validate.Range(min=0, min_inclusive=False, max=MAX_USD,
                                                          error="Must be greater than 0 USD a month."),
                   metadata={"description": "The monthly price offered, USD"})
    offered = _count(required=True, metadata={"description": "Prospects who saw the price"})
    converted = _count(required=True, metadata={"description": "Of them, how many bought"})

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data["converted"] > data["offered"]:
            raise ValidationError("More conversions than prospects offered the price.", field_name="converted")


class ObservationsSchema(Schema):
    """Observed early metrics over ``window_days`` since T0. Counts are people or accounts; money is USD."""

    window_days = fields.Integer(strict=True, load_default=30, validate=validate.Range(min=7, max=MAX_WINDOW_DAYS),
                                 metadata={"description": "Days the observations cover, from T0 (default 30)"})
    visitors = _count(load_default=None, metadata={"description": "Unique visitors to the offer"})
    signups = _count(load_default=None, metadata={"description": "Accounts created"})
    trials = _count(load_default=None, metadata={"description": "Trials started"})
    paying_customers = _count(load_default=None, metadata={"description": "Paying customers at the window's end"})
    churned_customers = _count(load_default=None, metadata={"description": "Paying customers lost in the window"})
    mrr = _usd(load_default=None, metadata={"description": "Monthly recurring revenue at the window's end, USD"})
    acquisition_spend = _usd(load_default=None,
                             metadata={"description": "Sales and marketing spent winning customers in the window, USD"})
    price_tests = fields.List(fields.Nested(PriceTestSchema), load_default=None,
                              validate=validate.Length(min=1, max=MAX_PRICE_TESTS),
                              metadata={"description": "Prices tested and how many bought at each"})
    survey = fields.List(fields.Nested(VanWestendorpAnswerSchema), load_default=None,
                         validate=validate.Length(min=1, max=1000),
                         metadata={"description": "Van Westendorp answers collected in the window"})

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        """Observations that contradict each other are refused, each naming its field."""
        errors: dict[str, list[str]] = {}
        funnel = [("visitors", "signups"), ("signups", "trials"), ("signups", "paying_customers")]
        for wider, narrower in funnel:
            if data.get(wider) is not None and data.get(narrower) is not None and data[narrower] > data[wider]:
                errors.setdefault(narrower, []).append(f"Cannot exceed {wider} ({data[wider]}).")
        if data.get("churned_customers") is not None and data.get("paying_customers") is not None \
                and data["churned_customers"] > data["paying_customers"]:
            errors.setdefault("churned_customers", []).append(
                f"Cannot exceed paying_customers ({data['paying_customers']}).")
        if data.get("mrr") and data.get("paying_customers") == 0:
            errors.setdefault("mrr", []).append("Revenue without paying customers: paying_customers must be > 0.")
        if errors:
            raise ValidationError(errors)

    @post_load
    def _observed_only(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        # Stored as sent: a repeat PUT compares equal, and the record shows what was observed, not empty slots.
        return given(data)


#: Observations the market model predicts, so the posterior update can weigh worlds by them. The others are kept with
#: the run (and said unused in the report) but cannot start an update alone.
PREDICTABLE = ("paying_customers", "churned_customers", "mrr", "acquisition_spend")


def predictable(observations: dict[str, Any] | None) -> list[str]:
    """The observations given that the model can score, in :data:`PREDICTABLE` order."""
    return [name for name in PREDICTABLE if (observations or {}).get(name) is not None]


def given(observations: dict[str, Any]) -> dict[str, Any]:
    """Only the observations the client made (absent and null both mean "not observed")."""
    return {key: value for key, value in observations.items() if value is not None}
