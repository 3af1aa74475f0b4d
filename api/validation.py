"""The validation-run resource: T0 creation, status, results, gate, lifecycle calls, list and artifacts."""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from typing import Any

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, ValidationError

from api import security
from smvm.artifacts import PUBLIC_ARTIFACTS
from smvm.errors import ArtifactNotFoundError, RequestValidationError, UnsupportedMediaTypeError
from smvm.intake.validation import check_callback_url, parse_request
from smvm.pipeline.update_stages import UPDATE_STAGES
from smvm.runs import responses
from smvm.runs.schemas import CancelSchema, CompleteSchema, FinalizeSchema, ListQuerySchema
from smvm.runs.store import RunStore

log = logging.getLogger(__name__)

bp = Blueprint("validation", __name__, url_prefix="/api/v1/validation")

complete_schema = CompleteSchema()
finalize_schema = FinalizeSchema()
cancel_schema = CancelSchema()
list_query_schema = ListQuerySchema()


def _store() -> RunStore:
    return current_app.extensions["smvm.store"]


def json_body(*, optional: bool = False) -> Any:
    """The parsed JSON body; 415 for another content type, 400 for unparsable JSON."""
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaTypeError(
            "Content-Type must be application/json.", details={"Content-Type": [request.content_type or "missing"]}
        )
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """A request body as the API reads it: standard JSON only (no NaN or Infinity), integral numbers as ints,
    lone surrogates as U+FFFD.

    :raises RequestValidationError: when it is not JSON.
    """
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_number)
    except (ValueError, RecursionError) as exc:
        raise RequestValidationError("Request body is not valid JSON.", details={"_body": [str(exc)[:200]]}) from None
    if _ESCAPED_SURROGATE.search(raw):
        body = _replace_lone_surrogates(body)
    return body


#: JSON may escape a UTF-16 surrogate on its own ("\ud800"): valid JSON text that no UTF-8 store can hold.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abAB]", re.IGNORECASE)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_lone_surrogates(value: Any) -> Any:
    """Lone surrogates become U+FFFD, as a UTF-8 decoder would make them: the body is accepted, not refused, since
    JSON allows them and the OpenAPI document cannot forbid them in a way every client reads alike."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(key): _replace_lone_surrogates(item) for key, item in value.items()}
    return value


def _number(text: str) -> float | int:
    """``265.0`` and ``1e2`` are integers to JSON Schema (and to the OpenAPI document): parse them as such, so an
    integer field accepts every spelling of an integer. Float fields take ints as they are."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _visible_run_id(identifier: str) -> str:
    """The run_id behind a run_id or validation_id the caller may see (404 otherwise)."""
    return security.ensure_visible(_store().resolve(identifier))["run_id"]


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise RequestValidationError("Request payload is invalid.", details=exc.messages_dict) from exc


def load_query(schema: Schema) -> dict[str, Any]:
    """The query string through ``schema``; the 400 names the offending parameters (unknown ones too).

    :raises RequestValidationError: with ``details`` keyed by parameter name.
    """
    unknown = sorted(set(request.args) - set(schema.fields))
    if unknown:
        raise RequestValidationError(f"Unknown query parameter: {', '.join(unknown)}.",
                                     details={name: ["Unknown query parameter."] for name in unknown})
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        names = ", ".join(sorted(exc.messages_dict))
        raise RequestValidationError(f"Invalid query parameter: {names}.", details=exc.messages_dict) from exc


@bp.post("/runs")
def create_run() -> tuple[dict[str, Any], int, dict[str, str]]:
    """T0: validate the idea, record the run, then enqueue its pipeline (after commit)."""
    settings = current_app.config["SMVM_SETTINGS"]
    normalized = parse_request(json_body(), max_iterations=settings.max_iterations)
    security.ensure_may_submit(normalized["project_id"])
    check_callback_url(normalized, settings)
    run, created = _store().create_run(normalized)
    headers = {"Location": f"/api/v1/validation/{run['run_id']}/status"}
    if created:
        try:
            current_app.extensions["smvm.enqueue"](run["run_id"])
        except Exception:  # the run is recorded; the sweeper enqueues it once the broker is back
            log.warning("smvm.api.enqueue_failed", extra={"run_id": run["run_id"]}, exc_info=True)
    else:
        headers["Idempotent-Replayed"] = "true"
    return run["response"], 202, headers


@bp.get("/runs")
def list_runs() -> dict[str, Any]:
    query = load_query(list_query_schema)
    runs, total = _store().list_runs(**query, project_patterns=security.project_patterns())
    return {
        "runs": [responses.run_summary(run) for run in runs],
        "total": total,
        "limit": query["limit"],
        "offset": query["offset"],
    }


@bp.get("/<identifier>/status")
def status(identifier: str) -> dict[str, Any]:
    run, stages = _store().detail(identifier)
    return responses.status_view(security.ensure_visible(run), stages)


@bp.get("/<identifier>/results")
def results(identifier: str) -> tuple[dict[str, Any], int]:
    store = _store()
    run, stages = store.detail(identifier)
    security.ensure_visible(run)
    if run["status"] in ("INITIATED", "RUNNING"):
        return responses.status_view(run, stages), 202
    # The configured public URL, as in the T0 answer's webhook_urls: behind a proxy the request's Host is not it.
    body = responses.results_view(
        run, stages, store.run_directory(run), store.artifacts(run["run_id"]), store.settings.public_base_url
    )
    return body, 200


@bp.get("/<identifier>/gate")
def gate(identifier: str) -> dict[str, Any]:
    store = _store()
    run = security.ensure_visible(store.resolve(identifier))
    return responses.gate_view(run, *responses.gate_documents(run, store.run_directory(run)))


@bp.put("/<identifier>/complete")
def complete(identifier: str) -> dict[str, Any]:
    payload = _load(complete_schema, json_body(optional=True))
    store = _store()
    run, update_started = store.mark_complete(_visible_run_id(identifier), payload)
    if update_started:
        try:
            current_app.extensions["smvm.enqueue"](run["run_id"], from_stage=UPDATE_STAGES[0].name)
        except Exception:  # the stage row is ENQUEUED; the sweeper publishes it once the broker is back
            log.warning("smvm.api.enqueue_failed", extra={"run_id": run["run_id"]}, exc_info=True)
    return responses.status_view(run, store.stages(run["run_id"])) | {"completion": run["completion"]}


@bp.post("/<identifier>/finalize")
def finalize(identifier: str) -> dict[str, Any]:
    payload = _load(finalize_schema, json_body(optional=True))
    store = _store()
    run = store.finalize(_visible_run_id(identifier), payload)
    return responses.finalization_view(run, store.stages(run["run_id"]))


@bp.post("/<identifier>/cancel")
def cancel(identifier: str) -> dict[str, Any]:
    payload = _load(cancel_schema, json_body(optional=True))
    store = _store()
    run = store.cancel(_visible_run_id(identifier), payload["reason"])
    return responses.status_view(run, store.stages(run["run_id"]))


@bp.get("/<identifier>/artifacts/<path:name>")
def artifact(identifier: str, name: str) -> Response:
    store = _store()
    run = security.ensure_visible(store.resolve(identifier))
    relative = PUBLIC_ARTIFACTS.get(name, name)
    if relative not in PUBLIC_ARTIFACTS.values():
        raise ArtifactNotFoundError(f"no artifact named {name!r}", details={"name": name, "available": sorted(PUBLIC_ARTIFACTS)})
    data = store.run_directory(run).read_bytes(relative)
    mimetype = mimetypes.guess_type(relative)[0] or "application/octet-stream"
    if relative.endswith(".jsonl"):
        mimetype = "application/x-ndjson"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'inline; filename="{relative.rsplit("/", 1)[-1]}"'})
