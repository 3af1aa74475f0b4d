"""Admin endpoints for the dead-letter store: list, show, replay, purge."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, request

from smvm.errors import RequestValidationError
from smvm.webhooks.services import DeliveryService, publish

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


def _service() -> DeliveryService:
    store = current_app.extensions["smvm.store"]
    return DeliveryService(store.db, store.settings, None)


def _time(value: Any, field: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestValidationError("invalid time", details={field: ["not an ISO 8601 time"]}) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _filters(source: Any) -> dict[str, Any]:
    ids = source.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise RequestValidationError("invalid ids", details={"ids": ["a list of delivery ids"]})
    return {"ids": ids or None, "run_id": source.get("run_id"), "since": _time(source.get("since"), "since"),
            "until": _time(source.get("until"), "until")}


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestValidationError("a JSON object is required", details={"body": ["expected an object"]})
    filters = _filters(body)
    if not any(value is not None for value in filters.values()) and body.get("all") is not True:
        raise RequestValidationError("give ids, run_id, since/until or all=true", details={"body": ["no filter"]})
    return filters


def _int_arg(name: str, default: int, *, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestValidationError("invalid query parameter", details={name: ["Not a valid integer."]}) from None
    if not low <= value <= high:
        raise RequestValidationError("invalid query parameter", details={name: [f"Must be between {low} and {high}."]})
    return value


@bp.get("/dlq")
def list_dead() -> dict[str, Any]:
    limit = _int_arg("limit", 100, low=1, high=500)
    offset = _int_arg("offset", 0, low=0, high=1_000_000)
    rows, total = _service().list_dead(limit=limit, offset=offset, **_filters(request.args))
    return {"total": total, "limit": limit, "offset": offset, "items": rows}


@bp.get("/dlq/<identifier>")
def show(identifier: str) -> dict[str, Any]:
    return _service().show(identifier)


@bp.post("/dlq/replay")
def replay() -> tuple[dict[str, Any], int]:
    ids = _service().replay(**_body())
    publish(ids)  # a hint; beat's due-poller sends them anyway
    return {"replayed": ids, "count": len(ids)}, 202


@bp.post("/dlq/purge")
def purge() -> dict[str, Any]:
    return {"purged": _service().purge(**_body())}
