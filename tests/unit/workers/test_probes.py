import os
import subprocess
import sys
from pathlib import Path

import pytest

from workers import probes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [("pipeline@host", "pipeline"), ("simulation-12@pod-x", "simulation-12"), (None, "worker"), ("a/b@h", "a_b")],
)
def test_probe_name_is_the_node_name_before_the_at(hostname, expected) -> None:
    assert probes.probe_name(hostname) == expected


def test_check_liveness_by_age_and_readiness_by_presence(tmp_path: Path) -> None:
    alive, ready = tmp_path / "w.alive", tmp_path / "w.ready"
    assert probes.check(liveness=alive) == (False, f"{alive} is missing")
    probes.touch(alive)
    os.utime(alive, (1000.0, 1000.0))
    assert probes.check(liveness=alive, max_age=60, now=1059.0)[0]
    assert not probes.check(liveness=alive, max_age=60, now=1061.0)[0]
    assert not probes.check(liveness=alive, readiness=ready, max_age=60, now=1010.0)[0]
    probes.touch(ready)
    assert probes.check(liveness=alive, readiness=ready, max_age=60, now=1010.0) == (True, "ok")


def test_check_command_exit_codes(tmp_path: Path) -> None:
    alive = tmp_path / "beat.alive"
    argv = [sys.executable, "-m", "workers.probes", "check", "--liveness", str(alive), "--max-age", "30"]
    assert subprocess.run(argv, capture_output=True).returncode == 1
    probes.touch(alive)
    assert subprocess.run(argv, capture_output=True).returncode == 0
    os.utime(alive, (0, 0))
    stale = subprocess.run(argv, capture_output=True, text=True)
    assert stale.returncode == 1 and "old" in stale.stderr


class _Timer:
    def __init__(self) -> None:
        self.calls = []

    def call_repeatedly(self, seconds, fn):
        self.calls.append((seconds, fn))
        return self

    def cancel(self) -> None:
        self.cancelled = True


class _Settings:
    def __init__(self, probe_dir: Path) -> None:
        self.probe_dir = probe_dir


def test_heartbeat_step_touches_on_its_timer_and_removes_on_shutdown(tmp_path: Path) -> None:
    app = type("App", (), {"smvm_settings": _Settings(tmp_path)})()
    consumer = type("Consumer", (), {"app": app, "hostname": "pipeline@h", "timer": _Timer()})()
    step = probes.HeartbeatStep(consumer)
    step.start(consumer)
    alive = tmp_path / "pipeline.alive"
    assert alive.exists()
    [(interval, beat)] = consumer.timer.calls
    assert interval == probes.HEARTBEAT_SECONDS
    os.utime(alive, (0, 0))
    beat()
    assert alive.stat().st_mtime > 0
    step.shutdown(consumer)
    assert not alive.exists() and consumer.timer.cancelled
