"""Schemas for the client's lifecycle calls (complete, finalize, cancel) and the run list's query."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from smvm.intake.schemas import SAFE_PROJECT_ID, Text
from smvm.runs.models import RUN_STATUSES


class CompleteSchema(Schema):
    """T0+30: what the client sends when it considers validation complete (all optional)."""

    completed_by = Text(max_length=254, load_default=None, allow_none=True)
    notes = Text(max_length=5000, load_default=None, allow_none=True)
    observed_metrics = fields.Dict(
        keys=fields.String(validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9_.-]+$")]),
        values=fields.Float(allow_nan=False, validate=validate.Range(min=-1e15, max=1e15)),
        load_default=dict,
        validate=validate.Length(max=50),
    )
    deliverables_accepted = fields.Boolean(load_default=None, allow_none=True)


class FinalizeSchema(Schema):
    """T32: the go/no-go as TractionBuild records it; absent ``decision`` means adopt SMVM's recommendation."""

    decision = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(("go", "pivot", "no_go")))
    finalized_by = Text(max_length=254, load_default=None, allow_none=True)
    notes = Text(max_length=5000, load_default=None, allow_none=True)


class CancelSchema(Schema):
    reason = Text(max_length=1000, load_default=None, allow_none=True)


class ListQuerySchema(Schema):
    project_id = fields.String(load_default=None, validate=validate.Regexp(SAFE_PROJECT_ID.pattern + r"\Z"))
    status = fields.String(load_default=None, validate=validate.OneOf(RUN_STATUSES))
    recommendation = fields.String(load_default=None, validate=validate.OneOf(("GO", "PIVOT", "KILL")))
    created_after = fields.AwareDateTime(load_default=None, default_timezone=None)
    created_before = fields.AwareDateTime(load_default=None, default_timezone=None)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
