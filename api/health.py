"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness: the process answers. Checks nothing external, so a DB blip never restarts every pod."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """Readiness: PostgreSQL and Redis answer within a short timeout; says which one fails."""
    settings = current_app.config["SMVM_SETTINGS"]
    ok: list[str] = []
    failing: dict[str, str] = {}
    try:
        current_app.extensions["smvm.store"].db.ping()
        ok.append("postgresql")
    except Exception as exc:  # noqa: BLE001 - report any failure as not ready
        failing["postgresql"] = type(exc).__name__ + (f": {exc.message}" if hasattr(exc, "message") else "")
    try:
        client = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        ok.append("redis")
    except Exception as exc:  # noqa: BLE001 - report any failure as not ready
        failing["redis"] = type(exc).__name__
    return {"ok": ok, "failing": failing}, 503 if failing else 200
