"""The TractionBuild stand-in (`smvm mock-tractionbuild`, a real process) receives a whole mock run's callbacks,
every one verified with the old secret of a rotation in progress, and the results sync, answering with reference_id."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import requests

from smvm.webhooks.signing import new_secret
from tests.integration import harness
from tests.integration.conftest import settings_environ
from tests.integration.inproc import new_body, settings_for

pytestmark = pytest.mark.integration

@pytest.fixture
def standin_database(database_url) -> Iterator[str]:
    """The results sync looks at every run in its database: this stack gets one of its own."""
    with harness.throwaway_database(database_url, "smvm_standin") as url:
        yield url


def test_standin_receives_a_whole_run_and_the_results_sync(standin_database, own_redis_url, tmp_path) -> None:
    old, new = new_secret(), new_secret()
    broker = own_redis_url  # apart from the other stacks' dbs, so no two sets of workers share a queue
    standin_port, web_port = harness.free_port(), harness.free_port()
    clock = tmp_path / "clock"
    clock.write_text(dt.datetime.now(dt.UTC).isoformat())
    settings = settings_for(
        standin_database, broker, tmp_path / "runs", mock_mode=True, webhook_secret=f"{new},{old}",
        tractionbuild_base_url=f"http://127.0.0.1:{standin_port}", results_sync_after_days=0.0,
        results_sync_hour_utc=2, results_sync_tick_seconds=1.0, delivery_poll_seconds=1.0, clock_file=clock,
        probe_dir=tmp_path / "probes",
    )
    env = settings_environ(settings)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    # TractionBuild still has only the old secret: the rotation must not break its verification.
    standin_env = {**env, "SMVM_WEBHOOK_SECRET": old}
    processes = {
        "standin": harness.Process("standin", [str(harness.BIN / "smvm"), "mock-tractionbuild", "--port",
                                               str(standin_port)], standin_env, log_dir),
        "web": harness.gunicorn(env, log_dir, web_port, workers=1),
        "pipeline": harness.celery_worker("smvm.pipeline", env, log_dir, name="si-pipeline"),
        "simulation": harness.celery_worker("smvm.simulation", env, log_dir, name="si-simulation"),
        "callbacks": harness.celery_worker("smvm.callbacks", env, log_dir, name="si-callbacks"),
        "maintenance": harness.celery_worker("smvm.maintenance", env, log_dir, name="si-maintenance"),
        "beat": harness.celery_beat(env, log_dir, name="si-beat"),
    }
    base = f"http://127.0.0.1:{web_port}/api/v1"
    standin = processes["standin"]
    try:
        for process in processes.values():
            process.start()
        harness.wait_for_http(f"http://127.0.0.1:{standin_port}/health")
        harness.wait_for_http(f"http://127.0.0.1:{web_port}/healthz")
        for name in ("pipeline", "simulation", "callbacks", "maintenance"):
            harness.wait_for_worker(processes[name])

        body = new_body(callback_url=f"http://127.0.0.1:{standin_port}")
        run_id = requests.post(f"{base}/validation/runs", json=body, timeout=10).json()["run_id"]
        harness.wait_until(
            lambda: requests.get(f"{base}/validation/{run_id}/status", timeout=5).json()["status"] == "COMPLETED",
            timeout=60, interval=0.3, what="mock run COMPLETED",
        )
        # Every callback of the run: the final update says COMPLETED, each one verified and acknowledged.
        harness.wait_until(lambda: '"status": "completed"' in standin.log().lower(), timeout=30, what="final update")
        updates = re.findall(r"POST /validation/update  signature ok  -> 200", standin.log())
        assert len(updates) >= 8, standin.log()
        assert "SIGNATURE INVALID" not in standin.log()
        assert '"mode": "mock"' in standin.log()

        # Move the test clock a day on: the next sync tick sends the run's results to TractionBuild.
        clock.write_text((dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=3).isoformat())
        harness.wait_until(lambda: "/validation-results  signature ok  -> 200" in standin.log(), timeout=30,
                           what="results sync at the stand-in")
        results_line = next(line for line in standin.log().splitlines() if "/validation-results  signature" in line)
        assert f"/api/v1/projects/{body['project_id']}/validation-results" in results_line
        assert '"reference_id": "ref_' in results_line
    except AssertionError:
        print("\n".join(f"--- {n} ---\n{p.log()[-3000:]}" for n, p in processes.items()))
        raise
    finally:
        harness.stop_all(processes.values())
