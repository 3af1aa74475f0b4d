"""The class every SMVM task is an instance of (``create_celery`` makes it the app's ``task_cls``)."""

from __future__ import annotations

from celery import Task

from smvm.config import Settings
from workers.context import WorkerContext, context_for


class SmvmTask(Task):  # type: ignore[misc]
    """Reaches its process's store, delivery service and publisher through :attr:`context`.

    The options every task shares (late acknowledgement, no result, time limits) are the app's configuration
    (``workers.app.celery_config``); a task's decorator names only what differs, such as a beat job's time limit.
    The correlation id travels in a message header for every task, Celery's own chain steps included
    (``workers.signals``).
    """

    @property
    def context(self) -> WorkerContext:
        return context_for(self.app)

    @property
    def settings(self) -> Settings:
        return self.app.smvm_settings  # type: ignore[no-any-return]
