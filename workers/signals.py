"""Celery signal handlers: JSON logs in workers and beat, each task's log context, masked argument reprs."""

from __future__ import annotations

import logging
import re
from typing import Any

from celery import Task
from celery.signals import beat_init, before_task_publish, setup_logging, task_postrun, task_prerun, worker_init

from smvm import logs
from smvm.config import Settings
from smvm.errors import ConfigurationError
from smvm.privacy.pii import mask_text
from workers.base import CORRELATION_HEADER
from workers.beat import QUIET_WHEN_IDLE

log = logging.getLogger(__name__)


def connect() -> None:
    """Connect the handlers below to Celery's signals (``create_celery`` does, in every process that builds the
    app). Connecting ``setup_logging`` at all is what stops Celery configuring the root logger itself."""
    setup_logging.connect(configure_worker_logging, weak=False, dispatch_uid="smvm.logging")
    worker_init.connect(refuse_to_start_without_secrets, weak=False, dispatch_uid="smvm.secrets.worker")
    beat_init.connect(refuse_to_start_without_secrets, weak=False, dispatch_uid="smvm.secrets.beat")
    before_task_publish.connect(mask_argument_reprs, weak=False, dispatch_uid="smvm.mask_argument_reprs")
    task_prerun.connect(bind_task_context, weak=False, dispatch_uid="smvm.log_context.bind")
    task_postrun.connect(clear_task_context, weak=False, dispatch_uid="smvm.log_context.clear")


def configure_worker_logging(loglevel: Any = None, **_: Any) -> None:
    """Replace Celery's own logging set-up (workers and beat) with smvm's JSON lines.

    Connecting this receiver is what stops Celery configuring the root logger itself.
    """
    settings = Settings.from_environ()
    if loglevel and isinstance(loglevel, str) and settings.log_level == Settings.log_level:
        # The command line's --loglevel counts when SMVM_LOG_LEVEL is left at its default.
        settings = settings.with_overrides(log_level=loglevel)
    handler = logs.configure_logging(settings, service="worker")
    # First: the PII filter renders each message with its arguments, and this one reads the arguments.
    handler.filters.insert(0, QuietWhenIdle())


def _idle(return_value: Any) -> bool:
    """A beat job's result that reports nothing done: 0, None, {"requeued": 0, "expired": 0}."""
    return not re.search(r"[1-9]", str(return_value))


class QuietWhenIdle(logging.Filter):
    """Drops Celery's routine INFO lines about the frequent beat jobs (``QUIET_WHEN_IDLE``) when they did nothing:
    beat sending one, a worker receiving one, a worker finishing one with an idle result. DEBUG shows them all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        args = record.args
        if record.name == "celery.beat" and isinstance(args, tuple) and len(args) == 2:
            return args[1] not in QUIET_WHEN_IDLE  # "Scheduler: Sending due task <entry> (<task>)"
        if record.name in ("celery.worker.strategy", "celery.app.trace") and isinstance(args, dict):
            if args.get("name") in QUIET_WHEN_IDLE:
                # Received: nothing to say yet. Succeeded: only when it did something.
                return "return_value" in args and not _idle(args["return_value"])
        return True


def refuse_to_start_without_secrets(sender: Any = None, **_: Any) -> None:
    """Every worker and beat stops at start-up, naming the variable, when production lacks a secret it needs.

    SystemExit, not an exception: Celery's signal dispatch logs and swallows exceptions from receivers.
    """
    settings = sender.app.smvm_settings
    try:
        settings.require_service_secrets()
    except ConfigurationError as exc:
        log.critical("smvm.config.missing_secret", extra={"error": exc.message})
        raise SystemExit(f"smvm: {exc.message} (SMVM_ENV={settings.env})") from None


def mask_argument_reprs(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Mask what Flower and the broker will show as a task's arguments.

    Task arguments are ids by design (see workers/publishing.py); this is the backstop that keeps a future task
    with a free-text argument from exposing PII. (The correlation id is put in the headers by ``SmvmTask``.)
    """
    if headers is None:
        return
    for key in ("argsrepr", "kwargsrepr"):
        if isinstance(headers.get(key), str):
            headers[key] = mask_text(headers[key])


def bind_task_context(task_id: str | None = None, task: Task | None = None, args: Any = None, **_: Any) -> None:
    """Start each task with a clean log context holding its ids and the correlation id it was published with."""
    logs.clear()
    name = getattr(task, "name", None)
    fields: dict[str, Any] = {"task_id": task_id, "task_name": name}
    request = getattr(task, "request", None)
    fields["correlation_id"] = getattr(request, CORRELATION_HEADER, None) if request is not None else None
    if name and name.startswith("smvm.stage.") and args:
        # Stage tasks take exactly (run_id,); the stage name is the task name's last part.
        fields["run_id"] = args[0]
        fields["stage"] = name.rsplit(".", 1)[-1]
    logs.bind(**fields)
    log.log(logging.DEBUG if name in QUIET_WHEN_IDLE else logging.INFO, "smvm.task.started")


def clear_task_context(task: Task | None = None, state: str | None = None, retval: Any = None, **_: Any) -> None:
    """Log the outcome with everything the task bound (the run's correlation id, attempt), then forget it all:
    a prefork child runs many tasks and nothing bound for one may leak into the next."""
    quiet = getattr(task, "name", None) in QUIET_WHEN_IDLE and state == "SUCCESS" and _idle(retval)
    log.log(logging.DEBUG if quiet else logging.INFO, "smvm.task.finished", extra={"state": state})
    logs.clear()
