"""Marshmallow schemas for the three accepted request shapes, all normalized to one internal request."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from smvm.ids import SAFE_ID, SAFE_PROJECT_ID
from smvm.intake.evidence import EvidenceSchema, FinancialsSchema, RetentionSchema, TeamSchema, TechnologySchema
from smvm.market.priors import DOMAINS
from smvm.schema_docs import documented

#: The largest market a request may state, in USD a year. Global IT spending, every product together, is about
#: $5T a year; no single product's market reaches $3T, so a larger figure is a unit error (cents, or a stock
#: instead of a yearly flow) and is refused rather than simulated.
MAX_MARKET = 3e12
#: The largest SOM a request may state, as a share of its SAM: over the model's 36-month horizon no new venture
#: obtains more than half of its serviceable market.
MAX_SOM_SHARE = 0.5
MAX_SEED = 2**63 - 1
SAMPLERS = ("sobol", "mc")
URGENCIES = ("low", "medium", "high")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")


@documented("Plain text: not blank (empty, or at least one character that is not white space), no control characters "
            "(other than tab and line breaks) and no HTML or XML markup.",
            pattern=f"^(?:$|(?=[\\s\\S]*\\S))(?![\\s\\S]*{_MARKUP.pattern})(?![\\s\\S]*{_CONTROL.pattern})")
def _plain_text(value: str) -> None:
    """Free text goes into reports and callbacks verbatim, so refuse control characters and markup."""
    if value and not value.strip():
        raise ValidationError("Must not be blank: give text, or leave the field out.")
    if _CONTROL.search(value):
        raise ValidationError("Must not contain control characters.")
    if _MARKUP.search(value):
        raise ValidationError("Must not contain HTML or XML markup.")


def Text(*, max_length: int, required: bool = False, min_length: int = 0, **kwargs: Any) -> fields.String:  # noqa: N802 - reads as a field type
    validators = [validate.Length(min=min_length, max=max_length), _plain_text]
    return fields.String(required=required, validate=validators, **kwargs)


def Money(**kwargs: Any) -> fields.Float:  # noqa: N802 - reads as a field type
    """A market size in USD a year: above 0 (a market of nothing is not a market) and at most MAX_MARKET."""
    return fields.Float(allow_nan=False, validate=validate.Range(
        min=0, min_inclusive=False, max=MAX_MARKET,
        error="Must be greater than 0 and at most {max:.0e} USD a year (see MAX_MARKET)."), **kwargs)


@documented("Must not contain '..' or a newline.", pattern=r"^(?![\s\S]*(?:\.\.|\n))")
def _path_safe(value: str) -> None:
    # The regex ends in "$", which Python lets match before a final newline; refuse that explicitly.
    if ".." in value or "\n" in value:
        raise ValidationError("Must not contain '..' or a newline.")


def _safe_id(pattern: re.Pattern[str], max_length: int) -> list[Any]:
    """Ids become path segments under the runs root (see smvm.ids)."""
    return [
        validate.Length(min=1, max=max_length),
        validate.Regexp(
            f"^{pattern.pattern}$",
            error="Must be letters, digits, '_', '.' or '-', starting with a letter or digit.",
        ),
        _path_safe,
    ]


class ConfigurationSchema(Schema):
    simulation_iterations = fields.Integer(strict=True, load_default=1000, validate=validate.Range(min=100))
    persona_count = fields.Integer(strict=True, load_default=5, validate=validate.Range(min=1, max=50))
    competitor_count = fields.Integer(strict=True, load_default=10, validate=validate.Range(min=0, max=50))
    max_tokens_per_run = fields.Integer(strict=True, load_default=10000, validate=validate.Range(min=1, max=10_000_000))
    timeout_seconds = fields.Integer(strict=True, load_default=3600, validate=validate.Range(min=10, max=7 * 86400))
    seed = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_SEED))
    sampler = fields.String(load_default="sobol", validate=validate.OneOf(SAMPLERS))
    scenario = fields.String(load_default="base", validate=[validate.Length(max=40), validate.Regexp(r"^[a-z_]+$")])

    def __init__(self, *args: Any, max_iterations: int = 1_000_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_iterations = max_iterations

    @validates_schema
    @documented("At most SMVM_MAX_ITERATIONS, this deployment's cap.", field="simulation_iterations",
                maximum=lambda settings: getattr(settings, "max_iterations", 1_000_000))
    def _iterations_within_cap(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("simulation_iterations", 0) > self.max_iterations:
            raise ValidationError(
                f"Must be at most {self.max_iterations} (the configured maximum).", "simulation_iterations"
            )


class MetadataSchema(Schema):
    initiated_by = Text(max_length=254, load_default=None, allow_none=True)
    initiated_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    source_system = Text(max_length=64, load_default="tractionbuild")
    callback_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, require_tld=False,
                              validate=validate.Length(max=2048))
    correlation_id = Text(max_length=128, load_default=None, allow_none=True)


class BusinessIdeaSchema(Schema):
    title = Text(max_length=200, load_default=None, allow_none=True)
    description = Text(required=True, min_length=1, max_length=5000)
    target_market = Text(max_length=1000, load_default=None, allow_none=True)
    value_proposition = Text(max_length=2000, load_default=None, allow_none=True)
    estimated_tam = Money(load_default=None, allow_none=True)
    estimated_sam = Money(load_default=None, allow_none=True)
    estimated_som = Money(load_default=None, allow_none=True)
    domain = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(DOMAINS))


class CanonicalRequestSchema(Schema):
    """The seed's "Code Specifications" body, plus optional ``evidence`` and ``correlation_id``."""

    project_id = fields.String(required=True, validate=_safe_id(SAFE_PROJECT_ID, 64))
    run_id = fields.String(load_default=None, validate=_safe_id(SAFE_ID, 128))
    business_idea = fields.Nested(BusinessIdeaSchema, required=True)
    configuration = fields.Nested(ConfigurationSchema, load_default=dict)
    # An absent nested object skips its schema, so its defaults come from loading an empty one.
    metadata = fields.Nested(MetadataSchema, load_default=lambda: MetadataSchema().load({}))
    evidence = fields.Nested(EvidenceSchema, load_default=dict)
    team = fields.Nested(TeamSchema, load_default=dict)
    technology = fields.Nested(TechnologySchema, load_default=dict)
    financials = fields.Nested(FinancialsSchema, load_default=dict)
    retention = fields.Nested(RetentionSchema, load_default=None, allow_none=True)
    correlation_id = Text(max_length=128, load_default=None, allow_none=True)

    @post_load
    def normalize(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        idea = data["business_idea"]
        return _normalized(
            data,
            shape="canonical",
            idea=idea,
            correlation_id=data.get("correlation_id") or data["metadata"].get("correlation_id"),
        )


class LegacyIdeaMetadataSchema(Schema):
    estimated_market_size = Money(load_default=None, allow_none=True)
    target_customers = Text(max_length=1000, load_default=None, allow_none=True)
    competitive_advantage = Text(max_length=2000, load_default=None, allow_none=True)


class LegacyIdeaSchema(Schema):
    description = Text(required=True, min_length=1, max_length=5000)
    domain = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(DOMAINS))
    urgency = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(URGENCIES))
    submitter = Text(max_length=254, load_default=None, allow_none=True)
    metadata = fields.Nested(LegacyIdeaMetadataSchema, load_default=lambda: LegacyIdeaMetadataSchema().load({}))


class LegacyRequestSchema(Schema):
    """The seed's first example body: ``idea{...}`` with top-level ``callback_url`` and ``correlation_id``."""

    project_id = fields.String(required=True, validate=_safe_id(SAFE_PROJECT_ID, 64))
    run_id = fields.String(load_default=None, validate=_safe_id(SAFE_ID, 128))
    idea = fields.Nested(LegacyIdeaSchema, required=True)
    callback_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, require_tld=False,
                              validate=validate.Length(max=2048))
    correlation_id = Text(max_length=128, load_default=None, allow_none=True)
    configuration = fields.Nested(ConfigurationSchema, load_default=dict)
    evidence = fields.Nested(EvidenceSchema, load_default=dict)
    team = fields.Nested(TeamSchema, load_default=dict)
    technology = fields.Nested(TechnologySchema, load_default=dict)
    financials = fields.Nested(FinancialsSchema, load_default=dict)
    retention = fields.Nested(RetentionSchema, load_default=None, allow_none=True)

    @post_load
    def normalize(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        legacy = data["idea"]
        extra = legacy["metadata"]
        idea = {
            "title": None,
            "description": legacy["description"],
            "domain": legacy["domain"],
            "urgency": legacy["urgency"],
            "estimated_tam": extra["estimated_market_size"],
            "target_customers": extra["target_customers"],
            "target_market": extra["target_customers"],
            "competitive_advantage": extra["competitive_advantage"],
            "value_proposition": extra["competitive_advantage"],
        }
        metadata = {"initiated_by": legacy["submitter"], "callback_url": data["callback_url"]}
        return _normalized(data, shape="legacy", idea=idea, metadata=metadata, correlation_id=data["correlation_id"])


class TractionBuildProjectSchema(Schema):
    """TractionBuild's own project record: ``name``, ``description``, ``hypothesis``, ``target_avatars``."""

    project_id = fields.String(load_default=None, validate=_safe_id(SAFE_PROJECT_ID, 64))
    run_id = fields.String(load_default=None, validate=_safe_id(SAFE_ID, 128))
    name = Text(required=True, min_length=1, max_length=200)
    description = Text(required=True, min_length=1, max_length=5000)
    hypothesis = Text(max_length=2000, load_default=None, allow_none=True)
    target_avatars = fields.List(Text(max_length=200), load_default=list, validate=validate.Length(max=20))
    domain = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(DOMAINS))
    callback_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, require_tld=False,
                              validate=validate.Length(max=2048))
    correlation_id = Text(max_length=128, load_default=None, allow_none=True)
    configuration = fields.Nested(ConfigurationSchema, load_default=dict)
    # TractionBuild's project record carries the same facts under the same names when it has them.
    evidence = fields.Nested(EvidenceSchema, load_default=dict)
    team = fields.Nested(TeamSchema, load_default=dict)
    technology = fields.Nested(TechnologySchema, load_default=dict)
    financials = fields.Nested(FinancialsSchema, load_default=dict)
    retention = fields.Nested(RetentionSchema, load_default=None, allow_none=True)

    @post_load
    def normalize(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        project_id = data["project_id"] or "TB-" + hashlib.sha256(data["name"].encode()).hexdigest()[:12]
        avatars = data["target_avatars"]
        idea = {
            "title": data["name"],
            "description": data["description"],
            "domain": data["domain"],
            "hypothesis": data["hypothesis"],
            "target_avatars": avatars,
            "target_market": ", ".join(avatars) or None,
            "value_proposition": data["hypothesis"],
        }
        metadata = {"callback_url": data["callback_url"]}
        return _normalized(
            {**data, "project_id": project_id},
            shape="tractionbuild",
            idea=idea,
            metadata=metadata,
            correlation_id=data["correlation_id"],
        )


_IDEA_DEFAULTS: dict[str, Any] = {
    "title": None,
    "description": "",
    "domain": None,
    "target_market": None,
    "value_proposition": None,
    "estimated_tam": None,
    "estimated_sam": None,
    "estimated_som": None,
    "urgency": None,
    "target_customers": None,
    "competitive_advantage": None,
    "hypothesis": None,
    "target_avatars": [],
}


def _normalized(
    data: dict[str, Any],
    *,
    shape: str,
    idea: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    correlation_id: str | None,
) -> dict[str, Any]:
    meta = {
        "initiated_by": None,
        "initiated_at": None,
        "source_system": "tractionbuild",
        "callback_url": None,
        **data.get("metadata", {}),
        **(metadata or {}),
    }
    meta.pop("correlation_id", None)
    if meta["initiated_at"] is not None:
        meta["initiated_at"] = meta["initiated_at"].isoformat()
    meta["request_shape"] = shape
    return {
        "project_id": data["project_id"],
        "run_id": data.get("run_id"),
        "idea": {**_IDEA_DEFAULTS, **idea},
        "evidence": data.get("evidence") or {},
        "facts": {
            "team": _given(data.get("team")),
            "technology": _given(data.get("technology")),
            "financials": _given(data.get("financials")),
            "retention": data.get("retention"),
        },
        # An absent "configuration" skips the nested schema, so fill its defaults here.
        "configuration": {**ConfigurationSchema().load({}), **data["configuration"]},
        "metadata": meta,
        "correlation_id": correlation_id,
    }


def _given(facts: dict[str, Any] | None) -> dict[str, Any]:
    """Only the facts the client stated: an absent key and a null one both mean "not known"."""
    return {key: value for key, value in (facts or {}).items() if value is not None}
