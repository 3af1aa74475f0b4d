"""Integration endpoints and guards: health of the TractionBuild link, maintenance windows, flags, IP allow-list."""

from __future__ import annotations

import math
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, request

from smvm import maintenance
from smvm.allowlist import client_address, is_allowed, parse_networks
from smvm.clock import iso_z
from smvm.config import Settings
from smvm.errors import DependencyUnavailableError, MaintenanceError, PermissionDeniedError
from smvm.features.flags import flags
from smvm.integration_health import integration_health

bp = Blueprint("integration", __name__, url_prefix="/api/v1")

#: Never refused by the allow-list: probes and scrapers come from the platform, not from API clients.
OPEN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.metrics"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ValidationDisabledError(DependencyUnavailableError):
    """The ``validation_enabled`` flag is off: no new runs; reads keep working."""

    code = "VALIDATION_DISABLED"


def _settings() -> Settings:
    return current_app.config["SMVM_SETTINGS"]


def _redis(settings: Settings) -> Any | None:
    url = settings.redis_url or settings.broker_url
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) if url else None


@bp.get("/integration/health")
def health() -> tuple[dict[str, Any], int]:
    """TractionBuild API connectivity, webhook delivery and data sync, each with evidence; 503 when any fails."""
    settings = _settings()
    report = integration_health(settings, current_app.extensions["smvm.store"].db, _redis(settings))
    report["flags"] = flags(settings)
    return report, 200 if report["healthy"] else 503


@bp.get("/maintenance/windows")
def windows() -> dict[str, Any]:
    """Upcoming scheduled maintenance windows (UTC); public so clients can plan around them."""
    settings = _settings()
    current = maintenance.active(settings)
    return {
        "timezone": "UTC",
        "in_maintenance": bool(settings.maintenance_mode or current),
        "windows": maintenance.upcoming(settings),
        "configured": list(settings.maintenance_windows),
    }


def refuse_outside_allowlist() -> None:
    """Registered first: a caller outside ``SMVM_ALLOWED_CLIENT_CIDRS`` learns nothing else (403)."""
    settings = _settings()
    if not settings.allowed_client_cidrs or request.endpoint in OPEN_ENDPOINTS:
        return
    address = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), settings.trusted_proxy_count)
    if not is_allowed(address, settings.allowed_client_cidrs):
        raise PermissionDeniedError("client address is not allowed", details={"reason": "ip_not_allowed"})


def refuse_writes_in_window() -> None:
    """During a scheduled window writes get 503 with Retry-After = seconds to the window's end."""
    settings = _settings()
    if request.method not in WRITE_METHODS or not request.path.startswith("/api/") or not settings.maintenance_windows:
        return
    current = maintenance.active(settings)
    if current is None:
        return
    window, ends = current
    seconds = max(1, math.ceil((ends - maintenance.now(settings)).total_seconds()))
    error = MaintenanceError(
        f"Scheduled maintenance ({window.spec} UTC) until {ends.isoformat().replace('+00:00', 'Z')}; "
        "writes are paused, reads keep working.",
        retry_after=seconds,
    )
    error.details = {"window": window.spec, "ends_at": iso_z(ends)}
    raise error


def refuse_runs_when_disabled() -> None:
    if request.endpoint == "validation.create_run" and not _settings().validation_enabled:
        raise ValidationDisabledError(
            "Validation is disabled on this SMVM (feature flag validation_enabled); reads keep working.",
            details={"flag": "validation_enabled"},
        )


def mark_mock_responses(response: Response) -> Response:
    """mock_mode: every JSON object the API answers says ``"mode": "mock"``, so nobody mistakes it for a real run."""
    if not _settings().mock_mode or not response.is_json or response.direct_passthrough:
        return response
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "mode" not in body:
        body["mode"] = "mock"
        response.set_data(current_app.json.dumps(body))
    return response


def init_app(app: Flask) -> None:
    """Validate the configuration now (a bad CIDR or window fails at startup); add the flag guard and mock marking.

    The allow-list and window guards are registered by api.security, in its guard order.
    """
    settings = app.config["SMVM_SETTINGS"]
    parse_networks(tuple(settings.allowed_client_cidrs))
    maintenance.windows(settings)
    app.before_request(refuse_runs_when_disabled)
    app.after_request(mark_mock_responses)
