"""JSON logs, one object a line, with request/task context from contextvars and PII masked on the way out."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
import types
from collections.abc import Mapping
from typing import IO, Any

from smvm.clock import iso_z
from smvm.config import Settings
from smvm.privacy.pii import mask_text, mask_value

#: Fields every line carries when known, in this order, after ts/level/logger/msg/service/env.
CONTEXT_FIELDS = ("correlation_id", "run_id", "stage", "attempt", "task_id", "task_name")

# An immutable default: bind() always sets a new mapping, so no context ever mutates a shared one.
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "smvm_log_context", default=types.MappingProxyType({})
)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

_HANDLER_NAME = "smvm.json"
_TRUSTED_FIELDS = frozenset({"run_id", "stage", "attempt", "task_id", "task_name", "validation_id", "project_id"})


def bind(**fields: Any) -> None:
    """Add fields to the current context (this thread or task); ``None`` values are ignored."""
    _context.set({**_context.get(), **{key: value for key, value in fields.items() if value is not None}})


def clear() -> None:
    """Forget every bound field: call at the end of a request or task so the next one starts clean."""
    _context.set({})


def current() -> Mapping[str, Any]:
    """The fields bound in this context (read-only)."""
    return _context.get()


class PiiFilter(logging.Filter):
    """Mask PII in the message, its arguments, every ``extra`` value and the exception text of each record.

    It rewrites the record in place, so every handler after it (and any formatter) sees masked data only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = mask_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            # Ids we generated or validated are left as they are: masking one by accident would break tracing.
            if key not in _RECORD_ATTRS and key not in _TRUSTED_FIELDS:
                setattr(record, key, mask_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, service, env, context fields, extras, exc."""

    def __init__(self, service: str, env: str) -> None:
        super().__init__()
        self.service = service
        self.env = env

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": iso_z(dt.datetime.fromtimestamp(record.created, dt.UTC), timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
            "env": self.env,
        }
        context = _context.get()
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is None:
                value = context.get(key)
            if value is not None:
                line[key] = value
        for key, value in context.items():
            line.setdefault(key, value)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in line:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(settings: Settings, service: str, *, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record (root logger) as a masked JSON line to ``stream`` (stderr by default).

    Idempotent: a second call replaces the handler it installed, so app factories may call it freely.
    ``settings.log_level`` sets the verbosity; DEBUG also lets the chattier libraries through.

    :returns: the installed handler.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(PiiFilter())
    handler.setFormatter(JsonFormatter(service=service, env=settings.env))
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level.upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    if root.level > logging.DEBUG:
        # Connection-pool chatter would drown the events on-call reads; DEBUG turns it back on.
        for noisy in ("urllib3", "kombu", "amqp"):
            logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    # The detailed_logging flag: DEBUG from our own packages only (libraries keep their level); every line still
    # goes through PiiFilter and JsonFormatter above.
    for ours in ("smvm", "api", "workers"):
        logging.getLogger(ours).setLevel(logging.DEBUG if settings.detailed_logging else logging.NOTSET)
    return handler
