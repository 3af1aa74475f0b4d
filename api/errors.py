"""One JSON error envelope for every error, from domain errors to Flask's own 404/405/413."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from smvm.errors import AuthenticationError, MaintenanceError, SmvmError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def correlation_id() -> str:
    if "correlation_id" not in g:
        incoming = request.headers.get("X-Correlation-ID", "")
        safe = incoming.isprintable() and 0 < len(incoming) <= 128 and all(c not in incoming for c in "\r\n")
        g.correlation_id = incoming if safe else f"CORR-{uuid.uuid4().hex}"
    return g.correlation_id


def envelope(status: int, code: str, message: str, details: dict[str, Any] | None = None,
             run_id: str | None = None) -> tuple[dict[str, Any], int]:
    body: dict[str, Any] = {
        "error": code,
        "status": status,
        "message": message,
        "details": details or {},
        "correlation_id": correlation_id(),
    }
    if run_id:
        body["run_id"] = run_id
    return body, status


def _handle_domain(error: SmvmError) -> tuple[dict[str, Any], int, dict[str, str]]:
    if error.status >= 500 and not isinstance(error, MaintenanceError):
        log.error("smvm.api.error", exc_info=error)
    body, status = envelope(error.status, error.code, error.message, error.details, error.run_id)
    headers: dict[str, str] = {}
    if isinstance(error, AuthenticationError):
        reason = error.details.get("reason", "invalid_token")
        # RFC 6750: no error attribute when the client sent no credentials at all.
        headers["WWW-Authenticate"] = (
            'Bearer realm="smvm"' if reason == "missing_token" else 'Bearer realm="smvm", error="invalid_token"'
        )
    if isinstance(error, MaintenanceError):
        headers["Retry-After"] = str(error.retry_after)
    elif status == 503:
        headers["Retry-After"] = "5"
    return body, status, headers


#: Headers werkzeug attaches to its own errors that the envelope must keep (405's Allow is required by RFC 9110).
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def _handle_http(error: HTTPException) -> tuple[dict[str, Any], int, dict[str, str]]:
    status = error.code or 500
    body, status = envelope(status, _HTTP_CODES.get(status, "HTTP_ERROR"), error.description or error.name)
    headers = {name: value for name, value in error.get_headers() if name in _KEPT_HEADERS}
    return body, status, headers


def _handle_unexpected(error: Exception) -> tuple[dict[str, Any], int]:
    log.error("smvm.api.unhandled", exc_info=error)
    return envelope(500, "INTERNAL_ERROR", "An unexpected error occurred; it has been logged.")


def init_app(app: Flask) -> None:
    app.register_error_handler(SmvmError, _handle_domain)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)

    @app.after_request
    def _echo_correlation_id(response):  # type: ignore[no-untyped-def]
        response.headers["X-Correlation-ID"] = correlation_id()
        return response
