"""One thin Celery task per pipeline stage: claim by id, run the smvm stage, record the outcome."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import Ignore

from smvm.errors import DependencyUnavailableError, SmvmError
from smvm.lifecycle import CANCELLED
from smvm.pipeline.tracks import ALL_STAGES
from smvm.runs.execution import StageReleasedError, execute_stage
from smvm.runs.store import RunStore
from smvm.store.db import TRANSIENT_DB_ERRORS
from workers.base import SmvmTask
from workers.publishing import enqueue_run

log = logging.getLogger(__name__)

#: Seconds before re-publishing a stage that hit a transient failure (PostgreSQL restarting, say).
TRANSIENT_RETRY_DELAY = 2.0


def run_stage(task: SmvmTask, run_id: str, stage: str) -> str | None:
    """The body every stage task shares.

    Returning with the chain intact lets it publish the next stage. When this message must not carry the run on (a
    duplicate or stale message, a transient failure re-published on its own, a cancelled run) the rest of the chain
    is dropped and the task still ends in a terminal state Flower shows: SUCCESS with what happened, or REVOKED for
    a cancelled run. (``Ignore`` would stop the chain too, but leaves the task STARTED in Flower for ever.)
    """
    store = task.context.store
    try:
        next_stage = execute_stage(store, run_id, stage, worker=task.request.hostname)
    except (StageReleasedError, DependencyUnavailableError, *TRANSIENT_DB_ERRORS) as exc:
        log.warning("smvm.stage.transient", extra={"run_id": run_id, "stage": stage, "error": str(exc)})
        try:
            enqueue_run(task.app, run_id, stage, countdown=TRANSIENT_RETRY_DELAY)
        except Exception:  # the broker is down too; the sweeper re-enqueues from the stage row
            log.warning("smvm.stage.republish_failed", extra={"run_id": run_id, "stage": stage}, exc_info=True)
        return _stop_chain(task, "released")
    if next_stage is None:
        if _cancelled(store, run_id):
            # Revoked is what happened: the client cancelled the run while this stage ran.
            task.send_event("task-revoked", terminated=False, signum=None, expired=False)
            _stop_chain(task, "cancelled")
            raise Ignore()
        return _stop_chain(task, "skipped")
    return None


def _stop_chain(task: SmvmTask, outcome: str) -> str:
    # Celery reads request.chain after the task returns to publish the next step; an empty chain publishes none.
    task.request.chain = None
    return outcome


def _cancelled(store: RunStore, run_id: str) -> bool:
    try:
        return store.resolve(run_id)["status"] == CANCELLED
    except SmvmError:  # erased since: nothing to show as revoked
        return False


def _define(stage: str) -> SmvmTask:
    @shared_task(name=f"smvm.stage.{stage}", bind=True)
    def stage_task(self: SmvmTask, run_id: str) -> str | None:
        return run_stage(self, run_id, stage)

    stage_task.__doc__ = f"Run the {stage.replace('_', ' ')} stage of one run (argument: run_id)."
    return stage_task


STAGE_TASKS = {stage.name: _define(stage.name) for stage in ALL_STAGES}
