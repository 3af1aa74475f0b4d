"""schemathesis hooks (loaded by schemathesis.toml): skip generated bodies that break only a cross-field rule.

JSON Schema cannot compare two fields (SAM <= TAM, too_cheap <= cheap <= ...), so the OpenAPI document states those
rules in words (a description), and a generator reading the document cannot follow them. This filter asks the
server's own validation which rule a body breaks: with the rules stated only in words switched off, a body that still
fails breaks a rule the document must state as JSON Schema, and it is kept, so schemathesis reports the gap.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import schemathesis
from marshmallow import Schema, ValidationError
from marshmallow.decorators import VALIDATES, VALIDATES_SCHEMA

from api.openapi import REQUEST_SCHEMAS
from api.validation import parse_json
from smvm import schema_docs
from smvm.errors import RequestValidationError
from smvm.intake import validation as intake


def _described_only(schema: type[Schema]) -> dict[str, list[Any]]:
    """``schema._hooks`` without the rules the document can only describe (no JSON Schema keywords)."""
    keep = {hook.method for hook in schema_docs.validation_hooks(schema)
            if hook.documentation is not None and hook.documentation.keywords}
    return defaultdict(list, {tag: [entry for entry in entries if tag not in (VALIDATES, VALIDATES_SCHEMA) or entry[0] in keep]
                              for tag, entries in schema._hooks.items()})


_SCHEMAS = list(dict.fromkeys(cls for root in REQUEST_SCHEMAS.values() for cls in schema_docs.schema_classes(root)))


@contextlib.contextmanager
def _without_cross_field_rules() -> Iterator[None]:
    # In this (schemathesis') process only: the rules stated in words, and intake's market-size rule, off.
    with contextlib.ExitStack() as stack:
        for schema in _SCHEMAS:
            stack.enter_context(mock.patch.object(schema, "_hooks", _described_only(schema)))
        stack.enter_context(mock.patch.object(intake, "_market_size_errors", lambda *args, **kwargs: {}))
        yield


def _passes(load: Callable[[], Any]) -> bool:
    try:
        load()
    except (ValidationError, RequestValidationError):
        return False
    return True


def _loader(operation_id: str | None, body: Any) -> Callable[[], Any] | None:
    body = parse_json(json.dumps(body).encode())  # what the server reads from what schemathesis sends
    if operation_id == "createRun":
        return lambda: intake.parse_request(body)
    name = {"completeRun": "Complete", "finalizeRun": "Finalize", "cancelRun": "Cancel",
            "replayDeadLetters": "DeadLetterFilter", "purgeDeadLetters": "DeadLetterFilter"}.get(operation_id or "")
    return (lambda: REQUEST_SCHEMAS[name]().load(body)) if name else None


@schemathesis.hook
def filter_body(context: schemathesis.HookContext, body: Any) -> bool:
    operation = context.operation
    operation_id = operation.definition.raw.get("operationId") if operation is not None else None
    if not isinstance(body, dict):  # negative cases send raw bytes, lists...: the rules are not in question
        return True
    load = _loader(operation_id, body)
    if load is None or _passes(load):
        return True
    with _without_cross_field_rules():
        breaks_a_field_rule = not _passes(load)
    return breaks_a_field_rule


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """The coverage phase builds whole cases, not bodies: the same rule, for its positive (schema-valid) cases."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict | list):
        return True
    return filter_body(context, case.body)
