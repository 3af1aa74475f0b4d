"""Run one stage attempt against the run store: claim, heartbeat, execute, record the outcome."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from smvm import logs
from smvm.features.services import stage_for
from smvm.pipeline.stages import STAGES_BY_NAME, StageContext
from smvm.runs.services import RunStore
from smvm.store.db import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

#: Failures that a later attempt can get past; anything else fails the run at once (retrying a bug repeats it).
TRANSIENT_STAGE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_DB_ERRORS, BlockingIOError, TimeoutError)


class StageReleasedError(Exception):
    """A transient failure: the stage went back to ENQUEUED and should be re-enqueued after a delay."""


class _Heartbeat:
    """Touch the stage row while it runs, so the sweeper can tell a slow stage from a dead worker."""

    def __init__(self, store: RunStore, run_id: str, stage: str, attempt: int) -> None:
        self._args = (run_id, stage, attempt)
        self._store = store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{stage}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._store.settings.stage_heartbeat_seconds):
            try:
                self._store.heartbeat(*self._args)
            except Exception:  # a missed beat only makes the sweeper retry sooner
                log.warning("smvm.stage.heartbeat_failed", exc_info=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def execute_stage(store: RunStore, run_id: str, stage_name: str, *, worker: str | None = None) -> str | None:
    """Run one attempt of ``stage_name`` for ``run_id`` if this caller wins the claim.

    :returns: the next stage's name, ``""`` when the run completed, ``None`` when there is nothing to do
        (a duplicate or stale message, a cancelled run, or this attempt was fenced out).
    :raises StageReleasedError: a transient failure; the stage is ENQUEUED again.
    :raises Exception: the stage's own permanent error, after the stage and run were marked FAILED.
    """
    stage = STAGES_BY_NAME[stage_name]
    claimed = store.claim_stage(run_id, stage_name, worker=worker)
    if claimed is None:
        log.info("smvm.stage.skipped", extra={"run_id": run_id, "stage": stage_name})
        return None
    run, attempt = claimed
    stage = stage_for(run, stage_name)  # the mock variant for a sandbox run (smvm.features)
    # The run row's correlation id wins over the message header: sweeper re-enqueues carry no header.
    logs.bind(correlation_id=run.get("correlation_id"), run_id=run_id, stage=stage_name, attempt=attempt)
    context = StageContext(run=run, request=run["request"], run_dir=store.run_directory(run))
    started = time.monotonic()
    with _Heartbeat(store, run_id, stage_name, attempt):
        try:
            summary = stage.execute(context)
        except TRANSIENT_STAGE_ERRORS as exc:
            store.release_stage(run_id, stage_name, attempt, f"{type(exc).__name__}: {exc}")
            raise StageReleasedError(str(exc)) from exc
        except Exception as exc:
            log.exception("smvm.stage.failed", extra={"run_id": run_id, "stage": stage_name, "attempt": attempt})
            store.fail_stage(run_id, stage_name, attempt, f"{type(exc).__name__}: {exc}")
            raise
    duration_ms = int((time.monotonic() - started) * 1000)
    # Only with the detailed_logging flag (DEBUG): the stage's summary and artifacts, masked like every line.
    log.debug("smvm.stage.detail", extra={"run_id": run_id, "stage": stage_name, "attempt": attempt,
                                          "duration_ms": duration_ms, "summary": summary,
                                          "artifacts": sorted(context.artifacts)})
    return store.complete_stage(
        run_id, stage_name, attempt, summary=summary, artifacts=context.artifacts, duration_ms=duration_ms
    )
