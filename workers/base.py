"""The class every SMVM task is an instance of (``create_celery`` makes it the app's ``task_cls``)."""

from __future__ import annotations

from typing import Any

from celery import Task

from smvm import logs
from smvm.config import Settings
from workers.context import WorkerContext, context_for

#: The message header that carries the correlation id. Celery's own ``correlation_id`` message *property* is the
#: task id and overwrites a header of that name in ``task.request``, so the value we read back lives under ours;
#: ``correlation_id`` is set too, for tools that read raw message headers.
CORRELATION_HEADER = "smvm_correlation_id"


class SmvmTask(Task):  # type: ignore[misc]
    """What every SMVM task shares: its delivery guarantees, its process's wiring, the correlation id it passes on.

    The numbers that are settings (time limits, the visibility timeout they must stay under) are the app's
    configuration (``workers.app.celery_config``); a task's decorator names only what differs from here, such as
    a beat job's time limit. Publishing after the PostgreSQL commit is the store's (``RunStore.after_commit``), not
    the task's: the API publishes too, and the store is what owns the transaction.
    """

    # Every task is safe to run twice (stages claim a fenced row, deliveries claim theirs), so a message is
    # acknowledged only once its task finished, and a worker killed mid-task puts it back (shared/reference 1.1).
    acks_late = True
    reject_on_worker_lost = True
    # PostgreSQL holds every outcome; nothing reads a Celery result.
    ignore_result = True
    # Flower shows STARTED while a stage runs, so a stuck stage is told from a queued one.
    track_started = True

    @property
    def context(self) -> WorkerContext:
        return context_for(self.app)

    @property
    def settings(self) -> Settings:
        return self.app.smvm_settings  # type: ignore[no-any-return]

    def apply_async(self, args: Any = None, kwargs: Any = None, task_id: str | None = None, producer: Any = None,
                    link: Any = None, link_error: Any = None, shadow: str | None = None, **options: Any) -> Any:
        """Publish with the caller's correlation id in the message headers: an API request's, or the running
        task's when Celery publishes a chain's next step or a retry (every one of them comes through here)."""
        correlation_id = logs.current().get("correlation_id")
        if correlation_id:
            headers = dict(options.get("headers") or {})
            headers.setdefault(CORRELATION_HEADER, correlation_id)
            headers.setdefault("correlation_id", correlation_id)
            options["headers"] = headers
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)
