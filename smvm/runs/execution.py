"""Run one stage attempt against the run store: claim, heartbeat, execute, record the outcome."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from smvm import logs
from smvm.features.flags import stage_for
from smvm.pipeline.stages import StageContext
from smvm.runs.store import RunStore
from smvm.store.db import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

#: Failures that a later attempt can get past; anything else fails the run at once (retrying a bug repeats it).
TRANSIENT_STAGE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_DB_ERRORS, BlockingIOError, TimeoutError)


class StageReleasedError(Exception):
    """A transient failure: the stage went back to ENQUEUED and should be re-enqueued after a delay."""


class _Heartbeats:
    """Touch the rows of the stages running in this process, so the sweeper can tell a slow stage from a dead worker.

    One daemon thread per process beats every registered stage when its interval comes round. Most stages end long
    before their first beat is due, so a thread per stage cost more in start-up (a GIL hand-off each way) than the
    stage's own work.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stages: dict[int, tuple[RunStore, tuple[str, str, int], float]] = {}
        self._next_key = 0
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    @contextlib.contextmanager
    def beating(self, store: RunStore, run_id: str, stage: str, attempt: int) -> Iterator[None]:
        with self._lock:
            self._ensure_thread()
            key = self._next_key = self._next_key + 1
            self._stages[key] = (store, (run_id, stage, attempt), time.monotonic() + store.settings.stage_heartbeat_seconds)
            self._wake.notify()
        try:
            yield
        finally:
            with self._lock:
                self._stages.pop(key, None)

    def _ensure_thread(self) -> None:
        # A thread does not survive fork: a prefork child starts its own on first use.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="stage-heartbeats", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                due = [(key, store, args) for key, (store, args, at) in self._stages.items() if at <= now]
                for key, store, args in due:
                    self._stages[key] = (store, args, now + store.settings.stage_heartbeat_seconds)
                waits = [at - now for _, _, at in self._stages.values()]
                if not due:
                    self._wake.wait(timeout=min(waits, default=60.0))
                    continue
            for _, store, args in due:
                try:
                    store.heartbeat(*args)
                except Exception:  # a missed beat only makes the sweeper retry sooner
                    log.warning("smvm.stage.heartbeat_failed", exc_info=True)


_HEARTBEATS = _Heartbeats()


def execute_stage(store: RunStore, run_id: str, stage_name: str, *, worker: str | None = None) -> str | None:
    """Run one attempt of ``stage_name`` for ``run_id`` if this caller wins the claim.

    :returns: the next stage's name, ``""`` at the end of its track (the run completed, or its T0+30 update is
        ready), ``None`` when there is nothing to do
        (a duplicate or stale message, a cancelled run, or this attempt was fenced out).
    :raises StageReleasedError: a transient failure; the stage is ENQUEUED again.
    :raises Exception: the stage's own permanent error, after the stage and run were marked FAILED.
    """
    claimed = store.claim_stage(run_id, stage_name, worker=worker)
    if claimed is None:
        log.info("smvm.stage.skipped", extra={"run_id": run_id, "stage": stage_name})
        return None
    run, attempt = claimed
    stage = stage_for(run, stage_name)  # the mock variant for a sandbox run (smvm.features)
    # The run row's correlation id wins over the message header: sweeper re-enqueues carry no header.
    logs.bind(correlation_id=run.get("correlation_id"), run_id=run_id, stage=stage_name, attempt=attempt)
    context = StageContext(run=run, request=run["request"], run_dir=store.run_directory(run),
                           calibration=store.calibration() if stage.reads_calibration else None)
    started = time.monotonic()
    with _HEARTBEATS.beating(store, run_id, stage_name, attempt):
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
