"""Graceful degradation: PostgreSQL down answers 503 + Retry-After; a POST accepted while Redis is down completes later."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.integration import harness
from tests.integration.conftest import settings_environ
from tests.integration.inproc import app_for, new_body, settings_for

pytestmark = pytest.mark.integration


def test_postgresql_unreachable_answers_503_not_a_traceback(redis_url, tmp_path) -> None:
    # Port 1 on loopback refuses at once: the same answer as a stopped cluster, without stopping the shared one.
    settings = settings_for("postgresql://postgres@127.0.0.1:1/none", redis_url, tmp_path, db_connect_timeout=2)
    client = app_for(settings).test_client()
    for response in (client.post("/api/v1/validation/runs", json=new_body()),
                     client.get("/api/v1/validation/runs")):
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        body = response.get_json()
        assert body["error"] == "SERVICE_UNAVAILABLE" and "Traceback" not in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503


class ThrowawayRedis:
    """A redis-server of our own on a free port, stopped and restarted on the same port by the test."""

    def __init__(self, workdir: Path) -> None:
        self.port = harness.free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_until(lambda: redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping(), timeout=10,
                           what="throwaway redis")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def throwaway_redis(tmp_path) -> Iterator[ThrowawayRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_post_accepted_while_redis_is_down_completes_after_restart(database_url, throwaway_redis, tmp_path) -> None:
    # mock_mode keeps the pipeline under a second, so the wait measures recovery, not the simulation.
    settings = settings_for(database_url, throwaway_redis.url, tmp_path / "runs", mock_mode=True,
                            sweeper_interval_seconds=2.0, stage_unstarted_after_seconds=3.0,
                            stage_stale_after_seconds=6.0, stage_heartbeat_seconds=1.0,
                            probe_dir=tmp_path / "probes")
    env = settings_environ(settings)
    port = harness.free_port()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    processes = {
        "web": harness.gunicorn(env, log_dir, port, workers=1),
        "pipeline": harness.celery_worker("smvm.pipeline", env, log_dir, name="dg-pipeline"),
        "simulation": harness.celery_worker("smvm.simulation", env, log_dir, name="dg-simulation"),
        "maintenance": harness.celery_worker("smvm.maintenance", env, log_dir, name="dg-maintenance"),
        "beat": harness.celery_beat(env, log_dir, name="dg-beat"),
    }
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for process in processes.values():
            process.start()
        harness.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        for name in ("pipeline", "simulation", "maintenance"):
            harness.wait_for_worker(processes[name])

        throwaway_redis.stop()
        started = time.monotonic()
        accepted = requests.post(f"{base}/validation/runs", json=new_body(), timeout=30)
        elapsed = time.monotonic() - started
        assert accepted.status_code == 202, accepted.text
        assert elapsed < 10, f"POST took {elapsed:.1f}s with Redis down"
        run_id = accepted.json()["run_id"]
        time.sleep(1)
        assert requests.get(f"{base}/validation/{run_id}/status", timeout=5).json()["status"] == "INITIATED"

        throwaway_redis.start()
        final = harness.wait_until(
            lambda: (body := requests.get(f"{base}/validation/{run_id}/status", timeout=5).json())["status"]
            in ("COMPLETED", "FAILED") and body,
            timeout=90, interval=0.5, what=f"{run_id} to finish after Redis came back",
        )
        assert final["status"] == "COMPLETED", "\n".join(p.log()[-2000:] for p in processes.values())
        assert final["mode"] == "mock"
    finally:
        harness.stop_all(processes.values())
