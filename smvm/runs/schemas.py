"""Schemas for the client's lifecycle calls (complete, finalize, cancel) and the run list's query."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import INCLUDE, Schema, fields, post_load, validate

from smvm.intake.observations import ObservationsSchema
from smvm.intake.schemas import SAFE_PROJECT_ID, Text
from smvm.lifecycle import RUN_STATUSES


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: marshmallow's Boolean also takes 1, "yes", "on"..., which the document's
    ``boolean`` does not allow (and ``0 in {False}`` is true in Python, so truthy/falsy sets cannot say it)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class CompleteSchema(Schema):
    """T0+30: what the client sends when it considers validation complete (all optional)."""

    completed_by = Text(max_length=254, load_default=None, allow_none=True)
    notes = Text(max_length=5000, load_default=None, allow_none=True)
    observed_metrics = fields.Nested(
        ObservationsSchema, load_default=None, allow_none=True,
        metadata={"description": "What the first weeks on the market showed. When it holds paying_customers, "
                                 "churned_customers, mrr or acquisition_spend on a COMPLETED run, the posterior "
                                 "update starts (status: posterior)."},
    )
    deliverables_accepted = StrictBoolean(load_default=None, allow_none=True)


class FinalizeSchema(Schema):
    """T32: the go/no-go as TractionBuild records it; absent ``decision`` means adopt SMVM's recommendation."""

    decision = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(("go", "pivot", "no_go")))
    finalized_by = Text(max_length=254, load_default=None, allow_none=True)
    notes = Text(max_length=5000, load_default=None, allow_none=True)


class CancelSchema(Schema):
    reason = Text(max_length=1000, load_default=None, allow_none=True)


class ListQuerySchema(Schema):
    project_id = fields.String(load_default=None, validate=validate.Regexp(f"^{SAFE_PROJECT_ID.pattern}$"))
    status = fields.String(load_default=None, validate=validate.OneOf(RUN_STATUSES))
    recommendation = fields.String(load_default=None, validate=validate.OneOf(("GO", "PIVOT", "KILL")))
    created_after = fields.AwareDateTime(load_default=None, default_timezone=None)
    created_before = fields.AwareDateTime(load_default=None, default_timezone=None)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))

    @post_load
    def _utc(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        for key in ("created_after", "created_before"):
            data[key] = utc(data[key])
        return data


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """A filter time in UTC: PostgreSQL refuses zone offsets past ±15:59 that ISO 8601 allows, and a time at the
    edge of year 1 or 9999 may leave Python's range once moved to UTC (it then means "since/until forever")."""
    if value is None:
        return None
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return (dt.datetime.min if value.year < 5000 else dt.datetime.max).replace(tzinfo=dt.UTC)


# -- Response documents (for the OpenAPI document; the views build these bodies) -------------------------------


class OpenSchema(Schema):
    """Responses may gain fields; clients must ignore ones they do not know."""

    class Meta:
        unknown = INCLUDE


class ErrorSchema(OpenSchema):
    error = fields.String(required=True, metadata={"description": "machine-readable code, e.g. VALIDATION_ERROR"})
    status = fields.Integer(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "per-field messages for validation errors"})
    correlation_id = fields.String(required=True)
    run_id = fields.String()


class ValidationResultsSchema(OpenSchema):
    schema_compliance = fields.String(required=True)
    business_logic_check = fields.String(required=True)
    risk_assessment = fields.String(required=True)
    recommendations = fields.List(fields.String(), required=True)


class RunAcceptedSchema(OpenSchema):
    run_id = fields.String(required=True)
    validation_id = fields.String(required=True)
    project_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["INITIATED"]))
    estimated_completion = fields.String(required=True)
    run_directory = fields.String(required=True)
    webhook_urls = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    validation_results = fields.Nested(ValidationResultsSchema, required=True)
    metadata = fields.Dict(required=True)


class StageSchema(OpenSchema):
    name = fields.String(required=True)
    queue = fields.String(required=True)
    status = fields.String(required=True)
    attempt = fields.Integer(required=True)
    enqueued_at = fields.String(allow_none=True)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    result = fields.Dict(allow_none=True)
    last_error = fields.String(allow_none=True)


_VERDICTS = ("GO", "PIVOT", "KILL")


class PosteriorStatusSchema(OpenSchema):
    """The T0+30 update, once PUT complete brought observations the model predicts."""

    status = fields.String(required=True, validate=validate.OneOf(("running", "ready", "failed")))
    recommendation = fields.String(validate=validate.OneOf(_VERDICTS), metadata={"description": "once ready"})
    confidence = fields.Float(metadata={"description": "once ready: P(recommendation)"})
    verdict_probabilities = fields.Dict(keys=fields.String(), values=fields.Float())
    prior_recommendation = fields.String(validate=validate.OneOf(_VERDICTS),
                                         metadata={"description": "the T0 verdict it replaces"})
    changed = fields.Boolean()
    ready_at = fields.String()


class FinalRecommendationSchema(OpenSchema):
    """SMVM's recommendation now: the posterior decision once the T0+30 update is ready, else the T0 one."""

    recommendation = fields.String(allow_none=True, required=True, validate=validate.OneOf(_VERDICTS))
    confidence = fields.Float(allow_none=True, required=True)
    source = fields.String(allow_none=True, required=True, validate=validate.OneOf(("prior", "posterior")))
    prior_recommendation = fields.String(allow_none=True, required=True, validate=validate.OneOf(_VERDICTS))
    verdict_probabilities = fields.Dict(allow_none=True, required=True)
    update = fields.String(allow_none=True, required=True, validate=validate.OneOf(("running", "ready", "failed")),
                           metadata={"description": "where the T0+30 update stands; null if none started"})


class RunStatusSchema(OpenSchema):
    run_id = fields.String(required=True)
    validation_id = fields.String(required=True)
    project_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    progress = fields.Float(required=True)
    current_stage = fields.String(allow_none=True)
    step_name = fields.String(allow_none=True)
    stage_results = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    stages = fields.List(fields.Nested(StageSchema), required=True)
    recommendation = fields.String(allow_none=True, metadata={"description": "the T0 decision's verdict"})
    confidence = fields.Float(allow_none=True)
    posterior = fields.Nested(PosteriorStatusSchema, allow_none=True, required=True, metadata={
        "description": "the T0+30 update (null until PUT complete brings observations the model predicts)"})
    estimated_completion = fields.String(allow_none=True)
    error = fields.Dict(allow_none=True)


class FinalizationResultSchema(RunStatusSchema):
    """T32's answer: the run, SMVM's final recommendation and TractionBuild's decision beside it."""

    finalization = fields.Dict(allow_none=True, required=True, metadata={
        "description": "as recorded: the request's fields, `smvm` (SMVM's final recommendation then) and `agrees`"})
    final_recommendation = fields.String(allow_none=True, required=True,
                                         validate=validate.OneOf(("go", "pivot", "no_go")),
                                         metadata={"description": "SMVM's final recommendation in go/no-go words"})
    smvm_recommendation = fields.String(allow_none=True, required=True, validate=validate.OneOf(_VERDICTS))
    recommendation_source = fields.String(allow_none=True, required=True,
                                          validate=validate.OneOf(("prior", "posterior")),
                                          metadata={"description": "posterior once T0+30 observations updated it"})
    tractionbuild_decision = fields.String(allow_none=True, required=True,
                                           validate=validate.OneOf(("go", "pivot", "no_go")),
                                           metadata={"description": "the decision sent, null if SMVM's was adopted"})
    disagreement = fields.Boolean(required=True, metadata={
        "description": "true when TractionBuild's decision differs from SMVM's final recommendation"})


class RunResultsSchema(OpenSchema):
    run_id = fields.String(required=True)
    validation_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    partial = fields.Boolean(required=True)
    decision = fields.Dict(allow_none=True, metadata={"description": "the T0 decision (decision.output.json)"})
    posterior_decision = fields.Dict(allow_none=True, required=True, metadata={
        "description": "the decision after the T0+30 observations (posterior.decision.json); null until ready"})
    final_recommendation = fields.Nested(FinalRecommendationSchema, required=True)
    summary = fields.Dict(allow_none=True)
    artifacts = fields.Dict(required=True)


class KeyFactorSchema(OpenSchema):
    factor = fields.String(required=True)
    score = fields.Float(required=True)
    evidence = fields.String(required=True)


class GateSchema(OpenSchema):
    run_id = fields.String(required=True)
    validation_id = fields.String(required=True)
    status = fields.String(required=True)
    can_progress = fields.Boolean(required=True)
    passed = fields.Boolean(required=True)
    recommendation = fields.String(allow_none=True, validate=validate.OneOf(["GO", "PIVOT", "KILL"]))
    go_recommendation = fields.String(allow_none=True, validate=validate.OneOf(["go", "pivot", "no_go"]))
    confidence = fields.Float(allow_none=True)
    confidence_score = fields.Float(allow_none=True)
    gate_decision = fields.String(required=True, validate=validate.OneOf(["proceed", "hold", "reject"]))
    source = fields.String(validate=validate.OneOf(("prior", "posterior")), metadata={
        "description": "with a decision: prior (T0) or posterior (after the T0+30 observations)"})
    requirements = fields.List(fields.String(), required=True)
    block_reason = fields.String(allow_none=True)
    key_factors = fields.List(fields.Nested(KeyFactorSchema), required=True)
    next_steps = fields.List(fields.String(), required=True)


class RunSummarySchema(OpenSchema):
    run_id = fields.String(required=True)
    validation_id = fields.String(required=True)
    project_id = fields.String(required=True)
    status = fields.String(required=True)
    recommendation = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True)
    created_at = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True)


class RunListSchema(OpenSchema):
    runs = fields.List(fields.Nested(RunSummarySchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class CheckSchema(OpenSchema):
    healthy = fields.Boolean(required=True)
    checked_at = fields.String(required=True)
    evidence = fields.Dict(required=True)


class HealthSchema(OpenSchema):
    """``GET /api/v1/integration/health``: the integration contract's check_integration_health, with evidence."""

    healthy = fields.Boolean(required=True)
    timestamp = fields.String(required=True)
    api_connectivity = fields.Boolean(required=True)
    webhook_delivery = fields.Boolean(required=True)
    data_sync = fields.Boolean(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema), required=True)
    flags = fields.Dict(required=True)


class WindowSchema(OpenSchema):
    window = fields.String(required=True)
    starts_at = fields.String(required=True)
    ends_at = fields.String(required=True)
    in_progress = fields.Boolean(required=True)


class MaintenanceWindowsSchema(OpenSchema):
    timezone = fields.String(required=True)
    in_maintenance = fields.Boolean(required=True)
    windows = fields.List(fields.Nested(WindowSchema), required=True)
    configured = fields.List(fields.String(), required=True)


class ReadinessSchema(OpenSchema):
    ok = fields.List(fields.String(), required=True)
    failing = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
