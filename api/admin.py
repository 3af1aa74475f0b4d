"""Admin endpoints for callbacks that have not arrived: dead letters (list, show, replay, purge) and held deliveries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask.blueprints import BlueprintSetupState
from marshmallow import ValidationError
from werkzeug.routing import BaseConverter

from api.validation import json_body, load_query
from smvm.callbacks.delivery import DeliveryService
from smvm.callbacks.schemas import DeadLetterFilterSchema, DeadLetterQuerySchema, HeldQuerySchema
from smvm.errors import RequestValidationError

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


class DeliveryIdConverter(BaseConverter):
    """A delivery id or a webhook-id (``msg_...``): never ``replay`` or ``purge``, so GET is not advertised for them."""

    regex = r"(?:[0-9]{1,19}|msg_[A-Za-z0-9_-]{1,100})"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["delivery"] = DeliveryIdConverter

dead_letter_query = DeadLetterQuerySchema()
dead_letter_filter = DeadLetterFilterSchema()
held_query = HeldQuerySchema()


def _service() -> DeliveryService:
    return current_app.extensions["smvm.deliveries"]  # type: ignore[no-any-return]


def _filters() -> dict[str, Any]:
    try:
        return dead_letter_filter.load(json_body())
    except ValidationError as exc:
        raise RequestValidationError("Request payload is invalid.", details=exc.messages_dict) from exc


@bp.get("/dlq")
def list_dead() -> dict[str, Any]:
    query = load_query(dead_letter_query)
    limit, offset = query.pop("limit"), query.pop("offset")
    rows, total = _service().list_dead(limit=limit, offset=offset, **query)
    return {"total": total, "limit": limit, "offset": offset, "items": rows}


@bp.get("/dlq/<delivery:identifier>")
def show(identifier: str) -> dict[str, Any]:
    return _service().show(identifier)


@bp.post("/dlq/replay")
def replay() -> tuple[dict[str, Any], int]:
    service = _service()
    ids = service.replay(**_filters())
    service.publish(ids)  # a hint; beat's due-poller sends them anyway
    return {"replayed": ids, "count": len(ids)}, 202


@bp.post("/dlq/purge")
def purge() -> dict[str, Any]:
    return {"purged": _service().purge(**_filters())}


@bp.get("/held-deliveries")
def held() -> dict[str, Any]:
    query = load_query(held_query)
    groups = _service().held(**query)
    settings = current_app.config["SMVM_SETTINGS"]
    return {"total": sum(group["count"] for group in groups), "max_hold_hours": settings.webhook_max_hold_hours,
            "groups": groups}
