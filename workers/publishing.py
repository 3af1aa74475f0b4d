"""Everything the processes send to the broker: a run's stages as one chain, and callback deliveries.

Both are published only after the PostgreSQL transaction that recorded them committed, and both are hints: the
sweeper rebuilds a lost chain from the stage rows and the due-poller re-sends a lost delivery from its row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from celery import Celery, chain

from smvm.pipeline.stages import STAGE_NAMES
from smvm.pipeline.tracks import track_of
from workers.app import DEFERRED_PRIORITY

#: The one task that attempts a delivery (``workers.callbacks.deliver_webhook``), addressed by name so that
#: publishing needs the app only, not the task module.
DELIVER_WEBHOOK = "smvm.callbacks.deliver_webhook"


def stage_task_id(run_id: str, stage: str) -> str:
    """Task ids start with the run id, so Flower's search finds every task of a run."""
    return f"{run_id}.{stage}.{uuid.uuid4().hex[:8]}"


def callback_task_id(run_id: str | None, delivery_id: int) -> str:
    """Task ids start with the run id, like the stages' (:func:`stage_task_id`), so searching a run id in Flower
    finds its callbacks too; a delivery with no run (none today) starts with ``callback``."""
    suffix = f"callback.{delivery_id}.{uuid.uuid4().hex[:8]}"
    return f"{run_id}.{suffix}" if run_id else suffix


def enqueue_run(app: Celery, run_id: str, from_stage: str = STAGE_NAMES[0], *, countdown: float | None = None) -> str:
    """Publish the chain from ``from_stage`` to the end of its track (the pipeline, or the T0+30 update); call only
    after the DB transaction committed.

    The rest of the chain travels inside the message; if that message is lost the sweeper rebuilds it from the
    stage rows, so publishing is a hint and never the record.

    :returns: the first task's id.
    """
    names = [stage.name for stage in track_of(from_stage)]
    names = names[names.index(from_stage):]
    signatures = [
        app.signature(f"smvm.stage.{name}", args=(run_id,), immutable=True).set(task_id=stage_task_id(run_id, name))
        for name in names
    ]
    if countdown:
        signatures[0] = signatures[0].set(countdown=countdown)
    result = chain(*signatures).apply_async()
    return signatures[0].id or result.id


class CeleryPublisher:
    """The callbacks outbox's publisher (``smvm.callbacks.outbox.Publisher``): one ``deliver_webhook`` message
    per delivery id on the callbacks queue; the row's claim makes duplicate messages harmless.

    Routine updates wait behind decisions, alerts and retries (``DEFERRED_PRIORITY``).
    """

    def __init__(self, app: Celery) -> None:
        self.app = app

    def __call__(
        self, ids: list[int], countdown: float | None = None, *, routine: bool = False,
        run_ids: Mapping[int, str | None] | None = None,
    ) -> None:
        priority = DEFERRED_PRIORITY if routine else 0
        run_ids = run_ids or {}
        for delivery_id in ids:
            self.app.signature(DELIVER_WEBHOOK, args=(delivery_id,)).apply_async(
                countdown=countdown or None, priority=priority,
                task_id=callback_task_id(run_ids.get(delivery_id), delivery_id),
            )
