"""An idle stack's beat and maintenance worker log nothing about the frequent polls that found nothing to do."""

from __future__ import annotations

import pytest
import redis

from smvm.config import Settings
from smvm.metrics import TASK_SUCCESS_KEY
from tests.integration import harness
from tests.integration.conftest import settings_environ

pytestmark = pytest.mark.integration


def test_idle_polls_leave_the_logs_quiet(database_url, own_redis_url, tmp_path) -> None:
    with harness.throwaway_database(database_url, "smvm_quiet") as url:
        settings = Settings(env="test", database_url=url, broker_url=own_redis_url, redis_url=own_redis_url,
                            runs_dir=tmp_path / "runs", probe_dir=tmp_path / "probes", delivery_poll_seconds=1.0,
                            sweeper_interval_seconds=1.0, results_sync_tick_seconds=3600.0)
        env = settings_environ(settings)
        processes = [harness.celery_worker("smvm.maintenance", env, tmp_path, name="quiet-maintenance").start(),
                     harness.celery_beat(env, tmp_path, name="quiet-beat").start()]
        worker = processes[0]
        try:
            harness.wait_for_worker(worker)
            client = redis.Redis.from_url(own_redis_url)
            done = lambda: {key.decode() for key in client.hkeys(TASK_SUCCESS_KEY)}  # noqa: E731 - a poll
            # Both polls ran (and succeeded) several times: each success is recorded where /metrics reads it.
            harness.wait_until(lambda: {"smvm.maintenance.dispatch_due_deliveries",
                                        "smvm.maintenance.sweep_stuck_stages"} <= done(), timeout=30, what="polls ran")
            first = float(client.hget(TASK_SUCCESS_KEY, "smvm.maintenance.dispatch_due_deliveries"))
            harness.wait_until(lambda: float(client.hget(TASK_SUCCESS_KEY, "smvm.maintenance.dispatch_due_deliveries"))
                               >= first + 3, timeout=30, what="three more polls")
        finally:
            harness.stop_all(processes)
    for process in processes:
        # (The worker's start-up banner lists its tasks, one "  . name" line each: not chatter.)
        chatter = [line for line in process.log().splitlines() if not line.startswith("  . ")
                   and ("dispatch_due_deliveries" in line or "sweep_stuck_stages" in line or "smvm.task." in line)]
        assert not chatter, "\n".join(chatter[:10])
