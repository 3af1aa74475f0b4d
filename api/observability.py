"""Request tracing for the API: JSON logs, the correlation id bound per request, and one access line each."""

from __future__ import annotations

import logging
import time

from flask import Flask, g, request
from flask.wrappers import Response

from api.errors import correlation_id
from smvm import logs

access_log = logging.getLogger("smvm.api.access")


def init_app(app: Flask) -> None:
    """Configure JSON logging for this process and trace every request.

    The access line holds method, route template, status and duration only: never bodies or query strings,
    which may carry PII or tokens.
    """
    logs.configure_logging(app.config["SMVM_SETTINGS"], service="api")

    @app.before_request
    def _bind_request_context() -> None:
        # gthread workers reuse threads: start every request from an empty context.
        logs.clear()
        g.smvm_started = time.perf_counter()
        logs.bind(correlation_id=correlation_id())

    @app.after_request
    def _log_access(response: Response) -> Response:
        started = g.get("smvm_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started is not None else None
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        access_log.info(
            "smvm.http.request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "correlation_id": correlation_id(),
            },
        )
        return response

    @app.teardown_request
    def _clear_request_context(_: BaseException | None) -> None:
        logs.clear()
