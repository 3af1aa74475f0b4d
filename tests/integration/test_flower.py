"""Flower, started as the Procfile runs it, sees the workers and finds a completed run's seven stage tasks by run id."""

from __future__ import annotations

import re

import pytest
import requests
from celery.states import READY_STATES

from smvm.config import Settings
from smvm.pipeline.stages import STAGE_NAMES
from tests.integration import harness
from tests.integration.receiver import Receiver

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


@pytest.fixture(scope="module")
def receiver():
    server = Receiver(Settings.from_environ({"SMVM_ENV": "test"}).webhook_secret, harness.free_port()).start()
    yield server
    server.stop()


def _tasks(flower: str, run_id: str) -> dict:
    response = requests.get(f"{flower}/api/tasks", params={"search": run_id, "limit": 200}, auth=AUTH, timeout=10)
    response.raise_for_status()
    return response.json()


def test_flower_finds_every_stage_task_of_a_completed_run_by_run_id(stack, flower, receiver, example_body) -> None:
    body = {**example_body, "project_id": "FLOWER-1", "metadata": {**example_body["metadata"], "callback_url": receiver.url}}
    accepted = stack.post_run(body)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    stack.wait_for_status(run_id)
    harness.wait_until(lambda: any('"status":"completed"' in r.body.decode() for r in receiver.received()), timeout=30,
                       what="the run's final callback")

    def stage_tasks():
        tasks = _tasks(flower, run_id)
        done = {task["name"]: task for task in tasks.values() if task.get("state") == "SUCCESS"}
        return tasks if len(done) == len(STAGE_NAMES) + 1 and "smvm.callbacks.deliver_webhook" in done else None

    tasks = harness.wait_until(stage_tasks, timeout=30, interval=0.5, what="seven SUCCESS stage tasks in Flower")
    assert {task["name"] for task in tasks.values()} >= {f"smvm.stage.{name}" for name in STAGE_NAMES}
    callbacks = [task for task in tasks.values() if task["name"] == "smvm.callbacks.deliver_webhook"]
    assert len(callbacks) >= len(STAGE_NAMES), "the run's callback deliveries are found by its run id too"
    for task_id, task in tasks.items():
        assert task_id.startswith(f"{run_id}.")  # the run id is what on-call pastes into the search
        if task["name"].startswith("smvm.stage."):
            assert task["args"] in (f"['{run_id}']", f"('{run_id}',)")  # ids only, no payloads
        else:
            assert re.fullmatch(r"[\[(]\d+,?[\])]", task["args"]), task["args"]  # a delivery id, no payload
    queues = {task["name"]: task.get("routing_key") for task in tasks.values()}
    assert queues["smvm.stage.market_simulation"] == "smvm.simulation"

    # refresh: inspect the workers now; without it Flower answers what its start-up inspect found, which under load
    # can be before the workers answered.
    workers = requests.get(f"{flower}/api/workers", params={"refresh": "1"}, auth=AUTH, timeout=20).json()
    prefixes = {name.split("-")[0].split("@")[0] for name in workers}
    assert {"pipeline", "simulation", "callbacks", "maintenance"} <= prefixes


def test_flower_refuses_unauthenticated_access(flower) -> None:
    assert requests.get(f"{flower}/", timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/tasks", timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/workers", auth=("oncall", "wrong"), timeout=5).status_code == 401
    # Exempt by design: load balancers and Prometheus reach these without credentials.
    assert requests.get(f"{flower}/healthcheck", timeout=5).status_code == 200


def test_a_cancelled_runs_simulation_task_ends_in_a_terminal_state(stack, flower, example_body) -> None:
    body = {**example_body, "project_id": "FLOWER-CANCEL",
            "configuration": {**example_body.get("configuration", {}), "simulation_iterations": 262_144}}
    run_id = stack.post_run(body).json()["run_id"]
    harness.wait_until(lambda: requests.get(stack.api(f"/validation/{run_id}/status"), timeout=5).json()["current_stage"]
                       == "market_simulation", timeout=60, interval=0.05, what="the simulation running")
    assert requests.post(stack.api(f"/validation/{run_id}/cancel"), json={"reason": "flower test"}, timeout=5).ok

    def simulation_finished():
        tasks = [t for t in _tasks(flower, run_id).values() if t["name"] == "smvm.stage.market_simulation"]
        return tasks if tasks and all(t["state"] in READY_STATES for t in tasks) else None

    [task] = harness.wait_until(simulation_finished, timeout=90, interval=0.5, what="the simulation task finished")
    assert task["state"] == "REVOKED", task
    assert not [t for t in _tasks(flower, run_id).values() if t["name"] == "smvm.stage.decision_analysis"]
