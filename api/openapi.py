"""The OpenAPI 3 document, generated from the marshmallow schemas the API validates and answers with."""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

from smvm import __version__
from smvm.config import Settings
from smvm.intake.schemas import CanonicalRequestSchema, LegacyRequestSchema, TractionBuildProjectSchema
from smvm.runs.schemas import (
    CancelSchema,
    CompleteSchema,
    ErrorSchema,
    FinalizeSchema,
    GateSchema,
    ListQuerySchema,
    RunAcceptedSchema,
    RunListSchema,
    RunResultsSchema,
    RunStatusSchema,
)
from smvm.webhooks.schemas import ValidationAlertSchema, ValidationUpdateSchema

bp = Blueprint("openapi", __name__)

_ERROR_TEXT = {
    400: "Invalid payload, query or header; `details` names each field",
    401: "Missing, invalid, expired or revoked bearer token",
    403: "The token lacks the scope, or may not touch this project",
    404: "Unknown id (or another project's run)",
    409: "Illegal transition, reused run_id or Idempotency-Key conflict",
    413: "Body over 1 MiB",
    415: "Body is not application/json",
    429: "Rate limit exceeded; see Retry-After",
    503: "Maintenance or a dependency is down; see Retry-After",
}
_READ_ERRORS = (401, 403, 404, 429, 503)
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 503)


def _responses(ok: dict[int, Any], errors: tuple[int, ...]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, schema) in ok.items():
        responses[str(status)] = {"description": description, "content": {"application/json": {"schema": schema}}}
    for status in errors:
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": "Error"}},
        }
    return responses


_ID = {
    "in": "path",
    "name": "identifier",
    "required": True,
    "description": "run_id or validation_id",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,159}$"},
}
_IDEMPOTENCY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Retries with the same key return the first answer (kept at least 24 h)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _body(schema: Any, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


#: The document is built once, without a deployment's settings: it states the default schedule.
_RETRY_DELAYS = ", ".join(f"{delay:g}" for delay in Settings.webhook_retry_delays)


def _callback(path: str, summary: str, schema: str) -> dict[str, Any]:
    # The canonical body's metadata.callback_url; the older shapes carry it at the top level (README, Callbacks).
    return {f"{{$request.body#/metadata/callback_url}}/{path}": {"post": {
        "summary": summary,
        "description": "Signed per Standard Webhooks: `webhook-id` (the same on every retry and replay; deduplicate "
                       "on it), `webhook-timestamp`, `webhook-signature`; also `X-Correlation-ID`.",
        "requestBody": _body(schema),
        "responses": {
            "2XX": {"description": "Received"},
            "410": {"description": "Gone: SMVM stops sending to this URL"},
            "429": {"description": "Retry after `Retry-After` without spending a retry (also 503)"},
            "default": {"description": f"Retried after {_RETRY_DELAYS} s (`SMVM_WEBHOOK_RETRY_DELAYS`), then a dead letter"},
        },
    }}}


_CALLBACKS = {
    "validationUpdate": _callback("validation/update", "A status change or stage step of the run", "ValidationUpdate"),
    "validationAlert": _callback("validation/alert", "An alert about the run", "ValidationAlert"),
}


@functools.cache
def build_spec() -> dict[str, Any]:
    """The whole document; built once per process."""
    spec = APISpec(
        title="SMVM — Synthetic Market Validation Module",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Validate business ideas: T0 submission, T0+3 gate, T0+30 completion, T32 finalization."},
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for name, schema in (
        ("Error", ErrorSchema), ("CanonicalRequest", CanonicalRequestSchema), ("LegacyRequest", LegacyRequestSchema),
        ("TractionBuildProject", TractionBuildProjectSchema), ("RunAccepted", RunAcceptedSchema),
        ("RunStatus", RunStatusSchema), ("RunResults", RunResultsSchema), ("Gate", GateSchema),
        ("RunList", RunListSchema), ("Complete", CompleteSchema), ("Finalize", FinalizeSchema), ("Cancel", CancelSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.components.schema("ValidationUpdate", schema=ValidationUpdateSchema)
    spec.components.schema("ValidationAlert", schema=ValidationAlertSchema)
    run_request = {"oneOf": [{"$ref": f"#/components/schemas/{name}"}
                             for name in ("CanonicalRequest", "LegacyRequest", "TractionBuildProject")]}
    secured = [{"bearerAuth": []}]
    spec.path("/api/v1/validation/runs", operations={
        "post": {
            "summary": "T0: submit an idea for validation",
            "operationId": "createRun",
            "security": secured,
            "parameters": [_IDEMPOTENCY],
            "requestBody": _body(run_request),
            "responses": _responses({202: ("Accepted (or replayed)", "RunAccepted")}, (400, 401, 403, 409, 413, 415, 429, 503)),
            "callbacks": _CALLBACKS,
        },
        "get": {
            "summary": "List runs, newest first",
            "operationId": "listRuns",
            "security": secured,
            "parameters": [{"in": "query", "schema": ListQuerySchema}],
            "responses": _responses({200: ("A page of runs", "RunList")}, (400, 401, 403, 429, 503)),
        },
    })
    reads = {
        "status": ("Status, progress and stages", "getStatus", {200: ("Status", "RunStatus")}),
        "results": ("Results (202 with the status while running)", "getResults",
                    {200: ("Results", "RunResults"), 202: ("Still running", "RunStatus")}),
        "gate": ("T0+3 gate", "getGate", {200: ("Gate decision", "Gate")}),
    }
    for suffix, (summary, operation_id, ok) in reads.items():
        spec.path(f"/api/v1/validation/{{identifier}}/{suffix}", operations={"get": {
            "summary": summary, "operationId": operation_id, "security": secured, "parameters": [_ID],
            "responses": _responses(ok, _READ_ERRORS),
        }})
    writes = {
        ("complete", "put"): ("T0+30: mark validation complete", "completeRun", "Complete"),
        ("finalize", "post"): ("T32: record the go/no-go", "finalizeRun", "Finalize"),
        ("cancel", "post"): ("Cancel a running run", "cancelRun", "Cancel"),
    }
    for (suffix, method), (summary, operation_id, schema) in writes.items():
        spec.path(f"/api/v1/validation/{{identifier}}/{suffix}", operations={method: {
            "summary": summary, "operationId": operation_id, "security": secured, "parameters": [_ID, _IDEMPOTENCY],
            "requestBody": _body(schema, required=False),
            "responses": _responses({200: ("The run after the transition", "RunStatus")}, _WRITE_ERRORS),
        }})
    spec.path("/api/v1/validation/{identifier}/artifacts/{name}", operations={"get": {
        "summary": "Download an artifact of the run directory",
        "operationId": "getArtifact",
        "security": secured,
        "parameters": [_ID, {"in": "path", "name": "name", "required": True, "schema": {"type": "string", "enum": [
            "idea.input.json", "validation_result.json", "market_data.json", "personas.output.json",
            "competitors.output.json", "simulation.config.json", "simulation.result.json", "decision.output.json",
            "validation_report.md", "analysis_report.pdf", "validation_summary.json", "meta.json", "events.jsonl"]}}],
        "responses": {
            "200": {"description": "The artifact's bytes", "content": {
                # JSON artifacts are any JSON document; the others are opaque bytes.
                "application/json": {"schema": {}},
                **{media: {"schema": {"type": "string", "format": "binary"}}
                   for media in ("text/markdown", "application/pdf", "application/x-ndjson")}}},
            **_responses({}, _READ_ERRORS),
        },
    }})
    for path, summary in (("/healthz", "Liveness: checks nothing external"),
                          ("/readyz", "Readiness: PostgreSQL and Redis answer")):
        spec.path(path, operations={"get": {"summary": summary, "operationId": path.strip("/"), "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
            "503": {"description": "Not ready", "content": {"application/json": {"schema": {"type": "object"}}}},
        }}})
    return spec.to_dict()


@bp.get("/api/v1/openapi.json")
def openapi_document() -> dict[str, Any]:
    return build_spec()
