"""One thin Celery task per pipeline stage: claim by id, run the smvm stage, record the outcome."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import Ignore

from smvm.errors import DependencyUnavailableError
from smvm.pipeline.stages import STAGE_NAMES
from smvm.runs.execution import StageReleasedError, execute_stage
from smvm.store.db import TRANSIENT_DB_ERRORS
from workers.context import get_store
from workers.pipeline import enqueue_run

log = logging.getLogger(__name__)

#: Seconds before re-publishing a stage that hit a transient failure (PostgreSQL restarting, say).
TRANSIENT_RETRY_DELAY = 2.0


def run_stage(task: Task, run_id: str, stage: str) -> None:
    """The body every stage task shares.

    Returning lets the chain publish the next stage; raising ``Ignore`` stops the chain, which is right for a
    duplicate or stale message (the live chain, or the sweeper, carries the run on).
    """
    store = get_store(task.app)
    try:
        next_stage = execute_stage(store, run_id, stage, worker=task.request.hostname)
    except (StageReleasedError, DependencyUnavailableError, *TRANSIENT_DB_ERRORS) as exc:
        log.warning("smvm.stage.transient", extra={"run_id": run_id, "stage": stage, "error": str(exc)})
        try:
            enqueue_run(task.app, run_id, stage, countdown=TRANSIENT_RETRY_DELAY)
        except Exception:  # the broker is down too; the sweeper re-enqueues from the stage row
            log.warning("smvm.stage.republish_failed", extra={"run_id": run_id, "stage": stage}, exc_info=True)
        raise Ignore() from exc
    if next_stage is None:
        raise Ignore()


def _define(stage: str) -> Task:
    @shared_task(name=f"smvm.stage.{stage}", bind=True, acks_late=True, ignore_result=True)
    def stage_task(self: Task, run_id: str) -> None:
        run_stage(self, run_id, stage)

    stage_task.__doc__ = f"Run the {stage.replace('_', ' ')} stage of one run (argument: run_id)."
    return stage_task


STAGE_TASKS = {stage: _define(stage) for stage in STAGE_NAMES}
