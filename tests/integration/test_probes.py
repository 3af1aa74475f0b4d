"""The stack's real workers and beat keep their probe files fresh; the probe command agrees."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smvm.config import Settings
from tests.integration import harness

pytestmark = pytest.mark.integration


def _check(*args: str) -> int:
    argv = [sys.executable, "-m", "workers.probes", "check", *args]
    return subprocess.run(argv, cwd=harness.ROOT, capture_output=True, timeout=30).returncode


def test_worker_and_beat_probe_files_are_fresh_and_ready(stack) -> None:
    probe_dir = harness.ROOT / Settings.from_environ(stack.env).probe_dir
    for short in ("pipeline", "simulation", "callbacks", "maintenance"):
        name = f"{short}-{os.getpid()}"  # harness.celery_worker's --hostname
        alive, ready = probe_dir / f"{name}.alive", probe_dir / f"{name}.ready"
        harness.wait_until(alive.exists, timeout=20, what=f"{alive}")
        assert _check("--liveness", str(alive), "--readiness", str(ready), "--max-age", "30") == 0, short
    beat = probe_dir / "beat.alive"
    # The sweeper fires every 2 s in the test stack, so beat's file is never older than a few seconds.
    harness.wait_until(lambda: _check("--liveness", str(beat), "--max-age", "10") == 0, timeout=20, what="fresh beat.alive")


def test_a_stopped_worker_removes_its_readiness_and_liveness_files(stack, tmp_path) -> None:
    env = dict(stack.env, SMVM_PROBE_DIR=str(tmp_path))
    worker = harness.celery_worker("smvm.maintenance", env, tmp_path, name="probe-check").start()
    try:
        harness.wait_for_worker(worker)
        name = f"probe-check-{os.getpid()}"
        assert _check("--liveness", str(tmp_path / f"{name}.alive"), "--readiness", str(tmp_path / f"{name}.ready")) == 0
    finally:
        worker.stop()
    assert not (tmp_path / f"{name}.ready").exists()
    assert not (tmp_path / f"{name}.alive").exists()
