"""Liveness and readiness files for Celery workers and beat, and the ``check`` command probes run.

Workers have no HTTP server, and ``celery inspect ping`` is a poor probe (a broadcast that fails when every process
is busy; shared/reference section 7). Instead, in ``SMVM_PROBE_DIR``:

- ``<name>.alive`` is touched every :data:`HEARTBEAT_SECONDS` by a timer on the worker's consumer event loop, so it
  goes stale when the consumer wedges (lost broker, blocked loop) even if the process still exists;
- ``<name>.ready`` is written on ``worker_ready`` and removed as soon as shutdown starts;
- ``beat.alive`` is touched by beat whenever it publishes a scheduled task (the sweeper, every
  ``SMVM_SWEEPER_INTERVAL_SECONDS``), so it goes stale when the scheduler stops ticking.

``<name>`` is the worker node name before ``@`` (``pipeline`` for ``--hostname pipeline@%h``).
Kubernetes runs ``python -m workers.probes check --liveness FILE --max-age N`` (exit 0 healthy, 1 not).

``create_celery`` connects the signal handlers below (:func:`connect`); they also record beat-job outcomes in
Redis for ``/metrics`` (see ``smvm.metrics``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from celery import bootsteps, signals

log = logging.getLogger(__name__)

#: Seconds between liveness touches; probes should allow several missed beats (max-age 60 in deploy/k8s).
HEARTBEAT_SECONDS = 10.0
BEAT_NAME = "beat"

_state: dict[str, Any] = {"in_beat": False}


def probe_name(hostname: str | None) -> str:
    """The file stem for a worker node name: ``pipeline@host`` -> ``pipeline``."""
    name = (hostname or "worker").split("@", 1)[0]
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "worker"


def touch(path: Path) -> None:
    """Create ``path`` (and its directory) or bump its mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, None)


def _remove(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _probe_dir(app: Any) -> Path:
    return Path(app.smvm_settings.probe_dir)


class HeartbeatStep(bootsteps.StartStopStep):
    """A consumer bootstep: touches the liveness file from the consumer's own timer while it is consuming."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None
        self.path = _probe_dir(parent.app) / f"{probe_name(parent.hostname)}.alive"

    def start(self, parent: Any) -> None:
        touch(self.path)
        self.tref = parent.timer.call_repeatedly(HEARTBEAT_SECONDS, self._beat)

    def _beat(self) -> None:
        try:
            touch(self.path)
        except OSError:  # a full or read-only disk must not kill the consumer; the probe will notice
            log.warning("smvm.probes.touch_failed", extra={"path": str(self.path)}, exc_info=True)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        _remove(self.path)


# -- Celery signal handlers (connected by connect(), which create_celery calls) -----------------------------------


def connect() -> None:
    """Connect the probe handlers below to Celery's signals."""
    signals.worker_init.connect(_install_heartbeat, weak=False, dispatch_uid="smvm.probes.install_heartbeat")
    signals.worker_ready.connect(_mark_ready, weak=False, dispatch_uid="smvm.probes.mark_ready")
    signals.worker_shutting_down.connect(_mark_not_ready, weak=False, dispatch_uid="smvm.probes.mark_not_ready")
    signals.beat_init.connect(_beat_started, weak=False, dispatch_uid="smvm.probes.beat_started")
    signals.before_task_publish.connect(_beat_published, weak=False, dispatch_uid="smvm.probes.beat_published")
    signals.task_postrun.connect(_record_beat_job, weak=False, dispatch_uid="smvm.probes.record_beat_job")


def _install_heartbeat(sender: Any = None, **_: Any) -> None:
    # worker_init fires before the consumer blueprint is built, so the step is picked up; only workers get it.
    steps = sender.app.steps["consumer"]
    if HeartbeatStep not in steps:
        steps.add(HeartbeatStep)


def _mark_ready(sender: Any = None, **_: Any) -> None:
    path = _probe_dir(sender.app) / f"{probe_name(sender.hostname)}.ready"
    touch(path)
    _state["ready"] = path


def _mark_not_ready(**_: Any) -> None:
    # Readiness drops at the start of the (soft) shutdown, before in-flight tasks finish.
    _remove(_state.pop("ready", None))


def _beat_started(sender: Any = None, **_: Any) -> None:
    _state["in_beat"] = True
    _state["beat_file"] = _probe_dir(sender.app) / f"{BEAT_NAME}.alive"
    touch(_state["beat_file"])


def _beat_published(**_: Any) -> None:
    # In the beat process every publish is a scheduler tick that fired; elsewhere this is a no-op.
    if _state["in_beat"]:
        try:
            touch(_state["beat_file"])
        except OSError:
            log.warning("smvm.probes.touch_failed", extra={"path": str(_state["beat_file"])}, exc_info=True)


def _record_beat_job(sender: Any = None, retval: Any = None, state: str | None = None, **_: Any) -> None:
    """Record sweeper counts and beat-job success times in Redis, where every API replica's /metrics reads them."""
    name = getattr(sender, "name", "") or ""
    if state != "SUCCESS" or not (name.startswith("smvm.maintenance.") or name.startswith("smvm.callbacks.sync")):
        return
    try:
        from smvm import metrics

        client = _redis(sender.app)
        metrics.record_task_success(client, name)
        if name == "smvm.maintenance.sweep_stuck_stages" and isinstance(retval, dict):
            metrics.record_sweep(client, retval)
    except Exception:  # noqa: BLE001 - metrics must never fail a task
        log.warning("smvm.probes.metrics_failed", extra={"task_name": name}, exc_info=True)


def _redis(app: Any) -> Any:
    client = _state.get("redis")
    if client is None or _state.get("redis_pid") != os.getpid():
        import redis

        settings = app.smvm_settings
        client = redis.Redis.from_url(settings.redis_url or settings.broker_url, socket_connect_timeout=2, socket_timeout=2)
        _state["redis"], _state["redis_pid"] = client, os.getpid()
    return client


# -- the probe command ------------------------------------------------------------------------------------------


def check(*, liveness: Path | None = None, readiness: Path | None = None, max_age: float = 60.0,
          now: float | None = None) -> tuple[bool, str]:
    """Is the liveness file fresher than ``max_age`` seconds and does the readiness file exist?

    :returns: ``(healthy, reason)``.
    """
    now = time.time() if now is None else now
    if liveness is not None:
        try:
            age = now - liveness.stat().st_mtime
        except FileNotFoundError:
            return False, f"{liveness} is missing"
        if age > max_age:
            return False, f"{liveness} is {age:.0f}s old (max {max_age:.0f}s)"
    if readiness is not None and not readiness.exists():
        return False, f"{readiness} is missing"
    return True, "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.probes", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("check", help="exit 0 when the probe files say healthy, 1 otherwise")
    cmd.add_argument("--liveness", type=Path, help="heartbeat file that must be fresher than --max-age")
    cmd.add_argument("--readiness", type=Path, help="file that must exist")
    cmd.add_argument("--max-age", type=float, default=60.0, help="seconds (default 60)")
    args = parser.parse_args(argv)
    if args.liveness is None and args.readiness is None:
        parser.error("give --liveness FILE and/or --readiness FILE")
    healthy, reason = check(liveness=args.liveness, readiness=args.readiness, max_age=args.max_age)
    print(reason, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
