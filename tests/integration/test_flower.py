"""Flower, started as the Procfile runs it, sees the workers and finds a completed run's seven stage tasks by run id."""

from __future__ import annotations

import pytest
import requests

from smvm.pipeline.stages import STAGE_NAMES
from tests.integration import harness

pytestmark = pytest.mark.integration

AUTH = ("oncall", "s3cret-test")


@pytest.fixture(scope="module")
def flower(stack, tmp_path_factory):
    port = harness.free_port()
    process = harness.flower(stack.env, tmp_path_factory.mktemp("flower-logs"), port, AUTH).start()
    base = f"http://127.0.0.1:{port}"
    try:
        harness.wait_for_flower_events(base, AUTH)
        yield base
    finally:
        process.stop()


def test_flower_finds_every_stage_task_of_a_completed_run_by_run_id(stack, flower, example_body) -> None:
    accepted = stack.post_run({**example_body, "project_id": "FLOWER-1"})
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    stack.wait_for_status(run_id)

    def stage_tasks():
        response = requests.get(f"{flower}/api/tasks", params={"search": run_id, "limit": 100}, auth=AUTH, timeout=10)
        response.raise_for_status()
        tasks = response.json()
        done = {task["name"]: task for task in tasks.values() if task.get("state") == "SUCCESS"}
        return tasks if len(done) == len(STAGE_NAMES) else None

    tasks = harness.wait_until(stage_tasks, timeout=30, interval=0.5, what="seven SUCCESS stage tasks in Flower")
    assert {task["name"] for task in tasks.values()} >= {f"smvm.stage.{name}" for name in STAGE_NAMES}
    for task_id, task in tasks.items():
        assert task_id.startswith(f"{run_id}.")  # the run id is what on-call pastes into the search
        assert task["args"] in (f"['{run_id}']", f"('{run_id}',)")  # ids only, no payloads
    queues = {task["name"]: task.get("routing_key") for task in tasks.values()}
    assert queues["smvm.stage.market_simulation"] == "smvm.simulation"

    workers = requests.get(f"{flower}/api/workers", auth=AUTH, timeout=20).json()
    prefixes = {name.split("-")[0].split("@")[0] for name in workers}
    assert {"pipeline", "simulation", "callbacks", "maintenance"} <= prefixes


def test_flower_refuses_unauthenticated_access(flower) -> None:
    assert requests.get(f"{flower}/", timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/tasks", timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/workers", auth=("oncall", "wrong"), timeout=5).status_code == 401
    # Exempt by design: load balancers and Prometheus reach these without credentials.
    assert requests.get(f"{flower}/healthcheck", timeout=5).status_code == 200
