"""The callback bodies SMVM sends, as schemas: documented in the OpenAPI document (``callbacks`` of createRun) and
checked against the payload builders in the tests (every field sent is documented, every documented one valid), so
the document cannot drift from what is sent.

Receivers should ignore fields they do not know: later versions may add some (``payload_version`` changes only for
incompatible changes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from smvm.callbacks.payloads import ALERT_SEVERITY
from smvm.gate import GATE_DECISIONS
from smvm.ids import SAFE_ID
from smvm.lifecycle import CALLBACK_STATUS, RUN_STATUSES
from smvm.runs.schemas import OpenSchema, StrictBoolean, utc
from smvm.schema_docs import documented
from smvm.webhooks.models import HOLD_REASONS, HOLD_WORDS


class _Sent(OpenSchema):
    payload_version = fields.String(required=True)
    validation_id = fields.String(required=True)
    run_id = fields.String(required=True)
    project_id = fields.String(required=True)
    correlation_id = fields.String(allow_none=True, required=True)
    mode = fields.String(validate=validate.Equal("mock"), metadata={"description": "only on sandbox (mock) runs"})


class StageResultSchema(OpenSchema):
    status = fields.String(required=True, validate=validate.OneOf(("succeeded", "failed")))
    attempt = fields.Integer(required=True)
    duration_ms = fields.Integer(allow_none=True, required=True)
    summary = fields.Dict(allow_none=True, required=True)


class DecisionSchema(OpenSchema):
    recommendation = fields.String(allow_none=True, required=True, validate=validate.OneOf(("GO", "PIVOT", "KILL")))
    gate_decision = fields.String(required=True, validate=validate.OneOf(GATE_DECISIONS), metadata={
        "description": "what the verdict means for the T0+3 gate: proceed for GO and PIVOT, reject for KILL"})
    confidence = fields.Float(allow_none=True, required=True)
    score = fields.Float(allow_none=True, required=True)
    critical_success_factors = fields.List(fields.Raw(), required=True)
    risk_assessment = fields.Raw(allow_none=True, required=True)
    key_factors = fields.Raw(allow_none=True, required=True)
    source = fields.String(required=True, validate=validate.OneOf(("prior", "posterior")), metadata={
        "description": "prior: the T0 decision (event DECISION_READY); posterior: the decision after the client's "
                       "T0+30 observations (event POSTERIOR_READY), which replaces it from then on"})
    verdict_probabilities = fields.Dict(keys=fields.String(), values=fields.Float(), allow_none=True,
                                        metadata={"description": "posterior only: P(GO), P(PIVOT), P(KILL)"})
    prior_recommendation = fields.String(allow_none=True, validate=validate.OneOf(("GO", "PIVOT", "KILL")),
                                         metadata={"description": "posterior only: the T0 verdict it replaces"})
    changed = fields.Boolean(allow_none=True, metadata={"description": "posterior only: the verdict moved"})
    why = fields.List(fields.String(), allow_none=True, metadata={"description": "posterior only: what moved it"})
    moved_most = fields.List(fields.Raw(), allow_none=True, metadata={
        "description": "posterior only: the observations that moved the verdict most, first the most"})


class PosteriorFailureSchema(OpenSchema):
    status = fields.String(required=True, validate=validate.Equal("failed"))
    error = fields.String(allow_none=True, required=True)
    recommendation_source = fields.String(required=True, validate=validate.Equal("prior"), metadata={
        "description": "the T0 decision stays SMVM's recommendation"})


class ValidationUpdateSchema(_Sent):
    """``POST {callback_url}/validation/update``: one per status change and stage step."""

    event = fields.String(required=True, metadata={
        "description": "RUN_INITIATED, STAGE_STARTED, DECISION_READY, ...; after PUT complete with observations: "
                       "POSTERIOR_READY (status DECISION_READY, the updated decision) or POSTERIOR_FAILED"})
    sequence = fields.Integer(required=True, metadata={
        "description": "increases with every event of the run: keep the update with the highest sequence per run "
                       "(DECISION_READY is sent ahead of queued progress, and retries can arrive late)"})
    status = fields.String(required=True, validate=validate.OneOf(("DECISION_READY", *sorted(set(CALLBACK_STATUS.values())))))
    run_status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    progress = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    current_stage = fields.String(allow_none=True, required=True)
    step_name = fields.String(allow_none=True, required=True)
    stage_results = fields.Dict(keys=fields.String(), values=fields.Nested(StageResultSchema), required=True)
    estimated_completion = fields.String(allow_none=True, required=True)
    timestamp = fields.String(required=True, metadata={"description": "when the event happened (UTC, ISO 8601)"})
    decision = fields.Nested(DecisionSchema, metadata={"description": "with status DECISION_READY only"})
    posterior = fields.Nested(PosteriorFailureSchema, metadata={"description": "with POSTERIOR_FAILED only"})
    gate_decision = fields.String(validate=validate.OneOf(GATE_DECISIONS), metadata={
        "description": "once the run has stopped (completed, failed, incomplete, cancelled): what GET /gate answers"})
    error = fields.Dict(metadata={"description": "with RUN_FAILED and STAGE_FAILED"})


class ValidationAlertSchema(_Sent):
    """``POST {callback_url}/validation/alert``: at most one of each type per run."""

    alert_type = fields.String(required=True, validate=validate.OneOf(sorted(ALERT_SEVERITY)))
    severity = fields.String(required=True, validate=validate.OneOf(sorted(set(ALERT_SEVERITY.values()))))
    message = fields.String(required=True)
    details = fields.Dict(required=True)
    current_stage = fields.String(allow_none=True, required=True)
    timestamp = fields.String(required=True)


# -- The dead-letter admin API's requests (api/admin.py) ----------------------------------------------------------

_RUN_ID = fields.String(validate=[validate.Length(min=1, max=128), validate.Regexp(f"^{SAFE_ID.pattern}$")])
_WHEN = {"default_timezone": dt.UTC, "metadata": {"description": "ISO 8601; without a zone, UTC"}}


class DeadLetterQuerySchema(Schema):
    """``GET /api/v1/admin/dlq``: dead letters, newest first."""

    run_id = fields.String(validate=_RUN_ID.validators, metadata={"description": "only this run's"})
    since = fields.AwareDateTime(**_WHEN)
    until = fields.AwareDateTime(**_WHEN)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))

    @post_load
    def _utc(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, **{key: utc(data[key]) for key in ("since", "until") if key in data}}


#: At least one filter, so a bare POST never replays or purges everything by accident.
_ONE_FILTER = [{"required": ["ids"]}, {"required": ["run_id"]}, {"required": ["since"]}, {"required": ["until"]},
               {"required": ["all"], "properties": {"all": {"const": True}}}]


class DeadLetterFilterSchema(Schema):
    """``POST /api/v1/admin/dlq/replay`` and ``/purge``: which dead letters."""

    ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=2**63 - 1)),
                      validate=validate.Length(min=1, max=10_000), metadata={"description": "delivery ids"})
    run_id = fields.String(validate=_RUN_ID.validators)
    since = fields.AwareDateTime(**_WHEN)
    until = fields.AwareDateTime(**_WHEN)
    all = StrictBoolean(load_default=False, metadata={"description": "every dead letter (when no other filter is given)"})

    @validates_schema
    @documented("Give at least one filter: ids, run_id, since, until, or all=true.", anyOf=_ONE_FILTER)
    def _one_filter(self, data: dict[str, Any], **_: Any) -> None:
        if not any(data.get(key) is not None for key in ("ids", "run_id", "since", "until")) and not data["all"]:
            raise ValidationError("Give ids, run_id, since, until, or all=true.", "_schema")

    @post_load
    def _filters(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"ids": data.get("ids"), "run_id": data.get("run_id"), "since": utc(data.get("since")),
                "until": utc(data.get("until"))}


class HeldQuerySchema(Schema):
    """``GET /api/v1/admin/held-deliveries``: callbacks not yet delivered nor dead, per destination and reason."""

    destination = fields.String(validate=validate.Length(min=1, max=300),
                                metadata={"description": "only this host:port"})


# -- ... and its answers ----------------------------------------------------------------------------------------


class DeadLetterSchema(OpenSchema):
    id = fields.Integer(required=True)
    webhook_id = fields.String(required=True)
    run_id = fields.String(allow_none=True, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("update", "alert", "sync")))
    event_type = fields.String(required=True)
    url = fields.String(required=True)
    destination = fields.String(required=True)
    attempts = fields.Integer(required=True)
    replays = fields.Integer(required=True)
    last_status = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    created_at = fields.String(required=True)
    dead_at = fields.String(allow_none=True, required=True)


class DeadLetterListSchema(OpenSchema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(DeadLetterSchema), required=True)


class DeliverySchema(OpenSchema):
    """One delivery in any state, with ``attempt_log`` (every attempt's time, status code, error and outcome)."""

    id = fields.Integer(required=True)
    webhook_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("PENDING", "SENDING", "DELIVERED", "DEAD", "DISABLED")))
    attempt_log = fields.List(fields.Dict(), required=True)


class ReplayedSchema(OpenSchema):
    replayed = fields.List(fields.Integer(), required=True)
    count = fields.Integer(required=True)


class PurgedSchema(OpenSchema):
    purged = fields.Integer(required=True)


class HeldGroupSchema(OpenSchema):
    destination = fields.String(required=True, metadata={"description": "host:port"})
    reason = fields.String(required=True, validate=validate.OneOf(HOLD_REASONS), metadata={"description": HOLD_WORDS})
    count = fields.Integer(required=True)
    oldest_created_at = fields.String(required=True)
    oldest_age_seconds = fields.Float(required=True)


class HeldDeliveriesSchema(OpenSchema):
    total = fields.Integer(required=True)
    max_hold_hours = fields.Float(required=True, metadata={
        "description": "held longer than this (SMVM_WEBHOOK_MAX_HOLD_HOURS), a delivery becomes a dead letter"})
    groups = fields.List(fields.Nested(HeldGroupSchema), required=True)
