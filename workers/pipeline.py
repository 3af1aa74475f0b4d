"""Publish a run's remaining stages as one chain of immutable, id-only signatures."""

from __future__ import annotations

import uuid

from celery import Celery, chain

from smvm.pipeline.stages import STAGE_NAMES
from smvm.pipeline.tracks import track_of


def stage_task_id(run_id: str, stage: str) -> str:
    """Task ids start with the run id, so Flower's search finds every task of a run."""
    return f"{run_id}.{stage}.{uuid.uuid4().hex[:8]}"


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
