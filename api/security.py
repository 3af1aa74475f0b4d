"""Request guards, in order: maintenance, rate limits, bearer-token auth and scopes, idempotency keys, audit."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api import integration
from smvm.auth.idempotency import IdempotencyStore, StoredResponse, replay_headers, request_fingerprint, validate_key
from smvm.auth.tokens import Principal, TokenStore
from smvm.config import Settings
from smvm.errors import MaintenanceError, PermissionDeniedError, RunNotFoundError

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: endpoint -> scope it needs; ``None`` is public. Endpoints not listed need runs:admin (deny by default).
ENDPOINT_SCOPES: dict[str, str | None] = {
    "health.healthz": None,
    "health.readyz": None,
    "static": None,
    "openapi.openapi_document": None,
    "integration.windows": None,
    "integration.health": "runs:read",
    "validation.create_run": "runs:write",
    "validation.list_runs": "runs:read",
    "validation.status": "runs:read",
    "validation.results": "runs:read",
    "validation.gate": "runs:read",
    "validation.artifact": "runs:read",
    "validation.complete": "runs:write",
    "validation.finalize": "runs:write",
    "validation.cancel": "runs:write",
}

#: endpoint -> the Settings attribute holding its rate limit (the seed's figures); others get the default.
ENDPOINT_LIMITS = {
    "validation.create_run": "rate_limit_create",
    "validation.status": "rate_limit_status",
    "validation.results": "rate_limit_results",
    "validation.complete": "rate_limit_complete",
    "validation.finalize": "rate_limit_finalize",
}

_IDEMPOTENT_ENDPOINTS = {"validation.create_run", "validation.complete", "validation.finalize", "validation.cancel"}
_REPLAYED_HEADERS = ("Location", "Content-Type")


def _rate_limit_key() -> str:
    """Per token when one is sent (hashed, so the limiter's Redis keys never hold a secret), else per address."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        return "token:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]
    return "addr:" + (get_remote_address() or "unknown")


def required_scope(endpoint: str | None, settings: Settings) -> str | None:
    if endpoint is None:
        return None  # no route: Flask answers 404 without revealing anything
    if endpoint == "metrics.metrics":
        return None if settings.metrics_public else "runs:admin"
    return ENDPOINT_SCOPES.get(endpoint, "runs:admin")


def current_principal() -> Principal | None:
    return g.get("principal")


def ensure_may_submit(project_id: str) -> None:
    """:raises PermissionDeniedError: the token may not create runs for ``project_id``."""
    principal = current_principal()
    if principal is not None and not principal.allows_project(project_id):
        raise PermissionDeniedError(
            f"token may not submit runs for project {project_id!r}", details={"project_id": project_id}
        )


def ensure_visible(run: dict[str, Any]) -> dict[str, Any]:
    """Another project's run is indistinguishable from a missing one (404), so ids leak nothing."""
    principal = current_principal()
    if principal is not None and not principal.allows_project(run["project_id"]):
        raise RunNotFoundError(f"no validation run {request.view_args.get('identifier')!r}")
    return run


def project_patterns() -> list[str] | None:
    principal = current_principal()
    return None if principal is None else principal.sql_project_patterns()


def _settings() -> Settings:
    return current_app.config["SMVM_SETTINGS"]


def _refuse_writes_in_maintenance() -> None:
    settings = _settings()
    if settings.maintenance_mode and request.method in WRITE_METHODS and request.path.startswith("/api/"):
        raise MaintenanceError(
            "SMVM is in maintenance; writes are paused, reads keep working.",
            retry_after=settings.maintenance_retry_after_seconds,
        )
    integration.refuse_writes_in_window()  # scheduled windows (SMVM_MAINTENANCE_WINDOWS)


def _authenticate() -> None:
    g.request_started = time.monotonic()
    settings = _settings()
    scope = required_scope(request.endpoint, settings)
    if scope is None or not settings.auth_required:
        return
    tokens: TokenStore = current_app.extensions["smvm.tokens"]
    g.auth_attempted = True
    principal = tokens.authenticate(request.headers.get("Authorization"))
    g.principal = principal
    principal.require_scope(scope)


def _claim_idempotency_key() -> Response | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or request.endpoint not in _IDEMPOTENT_ENDPOINTS:
        return None
    validate_key(key)
    principal = current_principal()
    client = principal.token_id if principal else "anonymous"
    store: IdempotencyStore = current_app.extensions["smvm.idempotency"]
    fingerprint = request_fingerprint(request.method, request.path, request.get_data(cache=True))
    stored = store.claim(client, key, fingerprint)
    if stored is not None:
        return Response(stored.body, status=stored.status, headers=replay_headers(stored.headers))
    g.idempotency = (client, key)
    return None


def _record_idempotent_response(response: Response) -> Response:
    claim = g.pop("idempotency", None)
    if claim is None:
        return response
    store: IdempotencyStore = current_app.extensions["smvm.idempotency"]
    if response.status_code >= 500:
        # Our failure, not the client's: let its retry run for real.
        store.release(*claim)
        return response
    headers = {name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers}
    store.complete(*claim, StoredResponse(response.status_code, response.get_data(), headers))
    return response


def _audit(response: Response) -> Response:
    if not g.get("auth_attempted"):
        return response
    principal = current_principal()
    status = response.status_code
    entry = {
        "token_id": principal.token_id if principal else None,
        "token_name": principal.name if principal else None,
        "method": request.method,
        "path": request.path[:512],
        "endpoint": request.endpoint,
        "status": status,
        "outcome": "ok" if status < 400 else "denied" if status in (401, 403) else "error",
        "run_id": (request.view_args or {}).get("identifier"),
        "correlation_id": g.get("correlation_id"),
        "remote_addr": request.remote_addr,
    }
    try:
        current_app.extensions["smvm.tokens"].audit(entry)
    except Exception:  # the audit is best effort; the answer already exists and must reach the client
        log.warning("smvm.audit.write_failed", exc_info=True)
    return response


#: The answers that ask the client to wait (RFC 9110 section 10.2.3): the limiter adds Retry-After to every answer.
_WAIT_STATUSES = frozenset({429, 503})


def _retry_after_only_when_waiting(response: Response) -> Response:
    if response.status_code not in _WAIT_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app: Flask, settings: Settings) -> None:
    app.before_request(integration.refuse_outside_allowlist)  # first: a refused address learns nothing else
    app.before_request(_refuse_writes_in_maintenance)
    app.config["RATELIMIT_STORAGE_URI"] = settings.redis_url or "memory://"
    app.config["RATELIMIT_KEY_PREFIX"] = "smvm-ratelimit"
    app.config["RATELIMIT_DEFAULT"] = settings.rate_limit_default
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # One limiter per app: limits are registered on the instance, and tests build several apps in one process.
    # moving-window: a burst gets exactly the limit, whatever the minute boundary.
    # swallow_errors: with Redis down the API keeps serving unthrottled rather than failing every request.
    limiter = Limiter(key_func=_rate_limit_key, headers_enabled=True, strategy="moving-window", swallow_errors=True)
    # Registered before the limiter's own hook, so it runs after it (Flask runs after_request hooks in reverse).
    app.after_request(_retry_after_only_when_waiting)
    limiter.init_app(app)
    app.extensions["smvm.limiter"] = limiter
    app.before_request(_authenticate)
    app.before_request(_claim_idempotency_key)
    app.after_request(_record_idempotent_response)
    app.after_request(_audit)


def apply_rate_limits(app: Flask, settings: Settings) -> None:
    """Attach the per-endpoint limits after the blueprints exist; health checks are never limited."""
    limiter: Limiter = app.extensions["smvm.limiter"]
    for endpoint, attribute in ENDPOINT_LIMITS.items():
        app.view_functions[endpoint] = limiter.limit(getattr(settings, attribute))(app.view_functions[endpoint])
    for endpoint in ("health.healthz", "health.readyz"):
        app.view_functions[endpoint] = limiter.exempt(app.view_functions[endpoint])
