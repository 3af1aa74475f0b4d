"""The OpenAPI 3.1 document, generated from the marshmallow schemas the API validates and answers with.

Every rule a request schema enforces is in it (smvm/schema_docs.py renders each validator and validation hook;
tests/unit/api/test_openapi_document.py checks that none is left out), and every route Flask serves under /api/v1 is
in it (the same test compares Flask's URL map with the document). Built once per process and deployment: the
iteration cap and the callback policy depend on ``Settings``.
"""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app
from marshmallow import Schema, fields

from smvm import __version__, schema_docs
from smvm.artifacts import PUBLIC_ARTIFACTS
from smvm.callbacks.schemas import (
    DeadLetterFilterSchema,
    DeadLetterListSchema,
    DeadLetterQuerySchema,
    DeliverySchema,
    HeldDeliveriesSchema,
    HeldQuerySchema,
    PurgedSchema,
    ReplayedSchema,
    ValidationAlertSchema,
    ValidationUpdateSchema,
)
from smvm.config import Settings
from smvm.intake.schemas import CanonicalRequestSchema, LegacyRequestSchema, TractionBuildProjectSchema
from smvm.intake.validation import MARKET_SIZE_RULE
from smvm.runs.schemas import (
    CancelSchema,
    CompleteSchema,
    ErrorSchema,
    FinalizationResultSchema,
    FinalizeSchema,
    GateSchema,
    HealthSchema,
    ListQuerySchema,
    MaintenanceWindowsSchema,
    ReadinessSchema,
    RunAcceptedSchema,
    RunListSchema,
    RunResultsSchema,
    RunStatusSchema,
)
from smvm.webhooks.policy import callback_url_pattern

bp = Blueprint("openapi", __name__)

_ERROR_TEXT = {
    400: "Invalid payload, query or header; `details` names each field",
    401: "Missing, invalid, expired or revoked bearer token",
    403: "The token lacks the scope, or may not touch this project (or the caller's address is not allowed)",
    404: "Unknown id (or another project's run)",
    409: "Illegal transition, reused run_id or Idempotency-Key conflict",
    413: "Body over 1 MiB",
    415: "Body is not application/json",
    429: "Rate limit exceeded; see Retry-After",
    503: "Maintenance or a dependency is down; see Retry-After",
}
_READ_ERRORS = (401, 403, 404, 429, 503)
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 503)

#: Request schemas: every validator of each is rendered (tests/unit/api/test_openapi_document.py walks them).
REQUEST_SCHEMAS: dict[str, type[Schema]] = {
    "CanonicalRequest": CanonicalRequestSchema,
    "LegacyRequest": LegacyRequestSchema,
    "TractionBuildProject": TractionBuildProjectSchema,
    "Complete": CompleteSchema,
    "Finalize": FinalizeSchema,
    "Cancel": CancelSchema,
    "DeadLetterFilter": DeadLetterFilterSchema,
}
#: Query-string schemas, rendered as the parameters of the operation named.
QUERY_SCHEMAS: dict[str, type[Schema]] = {
    "listRuns": ListQuerySchema,
    "listDeadLetters": DeadLetterQuerySchema,
    "listHeldDeliveries": HeldQuerySchema,
}
_RESPONSE_SCHEMAS: dict[str, type[Schema]] = {
    "Error": ErrorSchema, "RunAccepted": RunAcceptedSchema, "RunStatus": RunStatusSchema,
    "FinalizationResult": FinalizationResultSchema,
    "RunResults": RunResultsSchema, "Gate": GateSchema, "RunList": RunListSchema,
    "ValidationUpdate": ValidationUpdateSchema, "ValidationAlert": ValidationAlertSchema,
    "DeadLetterList": DeadLetterListSchema, "Delivery": DeliverySchema, "Replayed": ReplayedSchema,
    "Purged": PurgedSchema, "HeldDeliveries": HeldDeliveriesSchema, "IntegrationHealth": HealthSchema,
    "MaintenanceWindows": MaintenanceWindowsSchema, "Readiness": ReadinessSchema,
}


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
    "description": "Retries with the same key return the first answer (kept at least 48 h): 1-255 printable ASCII "
                   "characters",
    # No leading or trailing space: HTTP strips them, so such a key would arrive as another key.
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,253}[\\x21-\\x7e])?$"},
}
_SECURED = [{"bearerAuth": []}]
_PUBLIC: list[dict[str, list[str]]] = []


def _body(schema: Any, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _callback(path: str, summary: str, schema: str, retry_delays: str) -> dict[str, Any]:
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
            "default": {"description": f"Retried after {retry_delays} s (`SMVM_WEBHOOK_RETRY_DELAYS`), then a dead letter"},
        },
    }}}


# -- rendering every validator ---------------------------------------------------------------------------------

#: apispec's own validator renderers, replaced by smvm.schema_docs (which knows exclusive bounds, several patterns,
#: dict keys and our documented rules).
_BUILT_IN_RENDERERS = frozenset({"field2range", "field2length", "field2pattern", "field2choices"})


def _install_renderer(plugin: MarshmallowPlugin, settings: Settings) -> None:
    converter = plugin.converter
    assert converter is not None
    converter.attribute_functions = [f for f in converter.attribute_functions if f.__name__ not in _BUILT_IN_RENDERERS]

    def validators2properties(self: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
        rendered = schema_docs.render_field(field, settings)
        extra = rendered.as_property()
        if rendered.notes:
            extra["description"] = " ".join(filter(None, [ret.get("description"), *rendered.notes]))
        if isinstance(field, fields.Dict) and field.key_field is not None:
            keys = self.field2property(field.key_field)
            keys.pop("type", None)
            if keys:
                extra["propertyNames"] = keys
        return extra

    converter.add_attribute_function(validators2properties)


def _apply_schema_rules(document: dict[str, Any], plugin: MarshmallowPlugin, settings: Settings) -> None:
    """``@validates`` and ``@validates_schema`` hooks: keywords on the property (or object) they constrain, their
    words in its description."""
    components = document["components"]["schemas"]
    assert plugin.converter is not None
    for key, name in plugin.converter.refs.items():
        schema_cls = key[0] if isinstance(key, tuple) else key
        component = components.get(name)
        if component is None or not isinstance(schema_cls, type):
            continue
        data_keys = {field_name: field.data_key or field_name for field_name, field in schema_cls().fields.items()}
        for hook in schema_docs.validation_hooks(schema_cls):
            # tests/unit/api/test_openapi_document.py fails on an undocumented hook; the document still says it exists.
            documentation = hook.documentation or schema_docs.Documentation(f"A rule ({hook.method}) not described yet.")
            targets = [component["properties"][data_keys[field]] for field in hook.fields] or [component]
            if documentation.field:
                targets = [component["properties"][data_keys[documentation.field]]]
            for target in targets:
                rendered = schema_docs.Rendered()
                schema_docs.render_validator(rendered, documentation, fields.Raw(), settings)
                target.update(rendered.as_property())
                _describe(target, documentation.description)


def _describe(target: dict[str, Any], sentence: str) -> None:
    if sentence not in (target.get("description") or ""):
        target["description"] = " ".join(filter(None, [target.get("description"), sentence]))


def _apply_intake_rules(document: dict[str, Any], settings: Settings) -> None:
    """Rules intake applies after the schema: market-size consistency and the callback URL's SSRF policy."""
    components = document["components"]["schemas"]
    _describe(components["BusinessIdea"], MARKET_SIZE_RULE)
    _describe(components["LegacyIdeaMetadata"], "estimated_market_size is the TAM.")
    pattern, words = callback_url_pattern(settings)
    for name in ("Metadata", "LegacyRequest", "TractionBuildProject"):
        prop = components[name]["properties"]["callback_url"]
        prop.setdefault("allOf", []).append({"pattern": pattern})
        _describe(prop, words)


# -- the document ------------------------------------------------------------------------------------------------


def _settings_key(settings: Settings) -> tuple[Any, ...]:
    return (settings.max_iterations, settings.callback_allow_http, tuple(settings.callback_allowed_hosts),
            tuple(settings.webhook_retry_delays), settings.metrics_public)


def build_spec(settings: Settings | None = None) -> dict[str, Any]:
    """The whole document for this deployment's settings (the default settings without any)."""
    settings = settings or Settings()
    return _build(_settings_key(settings), settings)


@functools.lru_cache(maxsize=8)
def _build(_: tuple[Any, ...], settings: Settings) -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="SMVM — Synthetic Market Validation Module",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": "Validate business ideas: T0 submission, T0+3 gate, T0+30 completion, T32 finalization. "
                             "Every rule the server enforces on a request is stated here: as JSON Schema where it "
                             "can be, in the schema's description where it spans fields."},
        servers=[{"url": "/"}],
    )
    _install_renderer(plugin, settings)
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for name, schema in {**REQUEST_SCHEMAS, **_RESPONSE_SCHEMAS}.items():
        spec.components.schema(name, schema=schema)
    _paths(spec, settings)
    document = spec.to_dict()
    _apply_schema_rules(document, plugin, settings)
    _apply_intake_rules(document, settings)
    return document


def _paths(spec: APISpec, settings: Settings) -> None:
    retry_delays = ", ".join(f"{delay:g}" for delay in settings.webhook_retry_delays)
    run_request = {"oneOf": [{"$ref": f"#/components/schemas/{name}"}
                             for name in ("CanonicalRequest", "LegacyRequest", "TractionBuildProject")]}
    spec.path("/api/v1/validation/runs", operations={
        "post": {
            "summary": "T0: submit an idea for validation",
            "description": "Three request shapes, told apart by their keys: business_idea (canonical), idea "
                           "(legacy) or name (TractionBuild project).",
            "operationId": "createRun",
            "security": _SECURED,
            "parameters": [_IDEMPOTENCY],
            "requestBody": _body(run_request),
            "responses": _responses({202: ("Accepted (or replayed)", "RunAccepted")}, (400, 401, 403, 409, 413, 415, 429, 503)),
            "callbacks": {
                "validationUpdate": _callback("validation/update", "A status change or stage step of the run",
                                              "ValidationUpdate", retry_delays),
                "validationAlert": _callback("validation/alert", "An alert about the run", "ValidationAlert", retry_delays),
            },
        },
        "get": {
            "summary": "List runs, newest first",
            "operationId": "listRuns",
            "security": _SECURED,
            "parameters": [{"in": "query", "schema": QUERY_SCHEMAS["listRuns"]}],
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
            "summary": summary, "operationId": operation_id, "security": _SECURED, "parameters": [_ID],
            "responses": _responses(ok, _READ_ERRORS),
        }})
    writes = {
        ("complete", "put"): ("T0+30: mark validation complete; observations start the posterior update",
                              "completeRun", "Complete", "RunStatus"),
        ("finalize", "post"): ("T32: SMVM's final recommendation, with TractionBuild's go/no-go recorded beside it",
                               "finalizeRun", "Finalize", "FinalizationResult"),
        ("cancel", "post"): ("Cancel a running run", "cancelRun", "Cancel", "RunStatus"),
    }
    for (suffix, method), (summary, operation_id, schema, answer) in writes.items():
        spec.path(f"/api/v1/validation/{{identifier}}/{suffix}", operations={method: {
            "summary": summary, "operationId": operation_id, "security": _SECURED, "parameters": [_ID, _IDEMPOTENCY],
            "requestBody": _body(schema, required=False),
            "responses": _responses({200: ("The run after the transition", answer)}, _WRITE_ERRORS),
        }})
    spec.path("/api/v1/validation/{identifier}/artifacts/{name}", operations={"get": {
        "summary": "Download an artifact of the run directory",
        "operationId": "getArtifact",
        "security": _SECURED,
        "parameters": [_ID, {"in": "path", "name": "name", "required": True,
                             "schema": {"type": "string", "enum": list(PUBLIC_ARTIFACTS)}}],
        "responses": {
            "200": {"description": "The artifact's bytes", "content": {
                # JSON artifacts are any JSON document; the others are opaque bytes.
                "application/json": {"schema": {}},
                **{media: {"schema": {"type": "string", "format": "binary"}}
                   for media in ("text/markdown", "application/pdf", "application/x-ndjson")}}},
            **_responses({}, _READ_ERRORS),
        },
    }})
    _admin_paths(spec)
    _integration_paths(spec, settings)


def _admin_paths(spec: APISpec) -> None:
    admin = "Needs a token with the runs:admin scope."
    spec.path("/api/v1/admin/dlq", operations={"get": {
        "summary": "Dead letters (callbacks that ran out of retries or were held too long), newest first",
        "description": admin, "operationId": "listDeadLetters", "security": _SECURED,
        "parameters": [{"in": "query", "schema": QUERY_SCHEMAS["listDeadLetters"]}],
        "responses": _responses({200: ("A page of dead letters", "DeadLetterList")}, (400, 401, 403, 429, 503)),
    }})
    spec.path("/api/v1/admin/dlq/{identifier}", operations={"get": {
        "summary": "One delivery by id or webhook-id, with its attempts", "description": admin,
        "operationId": "getDelivery", "security": _SECURED,
        "parameters": [{"in": "path", "name": "identifier", "required": True, "description": "delivery id or webhook-id",
                        "schema": {"type": "string", "pattern": "^(?:[0-9]{1,19}|msg_[A-Za-z0-9_-]{1,100})$"}}],
        "responses": _responses({200: ("The delivery", "Delivery")}, _READ_ERRORS),
    }})
    for action, summary, ok in (
        ("replay", "Send dead letters again with the same webhook-id and a fresh retry budget",
         {202: ("Moved back to pending; sent by the callbacks workers", "Replayed")}),
        ("purge", "Delete dead letters for good", {200: ("How many were deleted", "Purged")}),
    ):
        spec.path(f"/api/v1/admin/dlq/{action}", operations={"post": {
            "summary": summary, "description": admin, "operationId": f"{action}DeadLetters", "security": _SECURED,
            "requestBody": _body("DeadLetterFilter"),
            "responses": _responses(ok, (400, 401, 403, 413, 415, 429, 503)),
        }})
    spec.path("/api/v1/admin/held-deliveries", operations={"get": {
        "summary": "Callbacks not delivered yet and not dead: how many per destination and why, and the oldest",
        "description": admin + " Held deliveries older than SMVM_WEBHOOK_MAX_HOLD_HOURS become dead letters.",
        "operationId": "listHeldDeliveries", "security": _SECURED,
        "parameters": [{"in": "query", "schema": QUERY_SCHEMAS["listHeldDeliveries"]}],
        "responses": _responses({200: ("Held deliveries by destination and reason", "HeldDeliveries")},
                                (400, 401, 403, 429, 503)),
    }})


def _integration_paths(spec: APISpec, settings: Settings) -> None:
    spec.path("/api/v1/integration/health", operations={"get": {
        "summary": "TractionBuild API connectivity, webhook delivery and data sync, with evidence",
        "operationId": "getIntegrationHealth", "security": _SECURED,
        "responses": {
            **_responses({200: ("Healthy", "IntegrationHealth")}, (401, 403, 429)),
            "503": {"description": "A check failed", "content": {"application/json": {"schema": "IntegrationHealth"}}},
        },
    }})
    spec.path("/api/v1/maintenance/windows", operations={"get": {
        "summary": "Upcoming scheduled maintenance windows (UTC)", "operationId": "listMaintenanceWindows",
        "security": _PUBLIC, "responses": _responses({200: ("Windows", "MaintenanceWindows")}, (403, 429)),
    }})
    spec.path("/api/v1/openapi.json", operations={"get": {
        "summary": "This document", "operationId": "getOpenApiDocument", "security": _PUBLIC,
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                      **_responses({}, (403, 429))},
    }})
    spec.path("/healthz", operations={"get": {
        "summary": "Liveness: checks nothing external", "operationId": "healthz", "security": _PUBLIC,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }})
    spec.path("/readyz", operations={"get": {
        "summary": "Readiness: PostgreSQL and Redis answer", "operationId": "readyz", "security": _PUBLIC,
        "responses": {status: {"description": text, "content": {"application/json": {"schema": "Readiness"}}}
                      for status, text in (("200", "Ready"), ("503", "Not ready: `failing` says which"))},
    }})
    spec.path("/metrics", operations={"get": {
        "summary": "Prometheus metrics (text exposition format)", "operationId": "metrics",
        "security": _PUBLIC if settings.metrics_public else _SECURED,
        "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                      **_responses({}, (401, 403) if not settings.metrics_public else ())},
    }})


@bp.get("/api/v1/openapi.json")
def openapi_document() -> dict[str, Any]:
    return build_spec(current_app.config["SMVM_SETTINGS"])
