"""The callback bodies SMVM sends, as schemas: documented in the OpenAPI document (``callbacks`` of createRun) and
checked against the payload builders in the tests (every field sent is documented, every documented one valid), so
the document cannot drift from what is sent.

Receivers should ignore fields they do not know: later versions may add some (``payload_version`` changes only for
incompatible changes).
"""

from __future__ import annotations

from marshmallow import fields, validate

from smvm.gate import GATE_DECISIONS
from smvm.runs.models import CALLBACK_STATUS, RUN_STATUSES
from smvm.runs.schemas import OpenSchema
from smvm.webhooks.payloads import ALERT_SEVERITY


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


class ValidationUpdateSchema(_Sent):
    """``POST {callback_url}/validation/update``: one per status change and stage step."""

    event = fields.String(required=True, metadata={"description": "RUN_INITIATED, STAGE_STARTED, DECISION_READY, ..."})
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
    decision = fields.Nested(DecisionSchema, metadata={"description": "with DECISION_READY only"})
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
