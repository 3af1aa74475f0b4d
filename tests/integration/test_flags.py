"""Feature flags through the real app and database: validation_enabled, async_callbacks, mock_mode."""

from __future__ import annotations

import pytest

from smvm.runs.store import RunStore
from tests.integration import harness
from tests.integration.inproc import app_for, new_body, settings_for

pytestmark = pytest.mark.integration


def _deliveries(store: RunStore, run_id: str) -> int:
    with store.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM deliveries WHERE run_id = %s", (run_id,))
        return cur.fetchone()["n"]


def test_validation_disabled_refuses_creation_and_keeps_reads(database_url, redis_url, tmp_path) -> None:
    enabled = app_for(settings_for(database_url, redis_url, tmp_path)).test_client()
    run_id = enabled.post("/api/v1/validation/runs", json=new_body()).get_json()["run_id"]
    disabled = app_for(settings_for(database_url, redis_url, tmp_path, validation_enabled=False)).test_client()
    refused = disabled.post("/api/v1/validation/runs", json=new_body())
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.get_json()["error"] == "VALIDATION_DISABLED"
    assert disabled.get(f"/api/v1/validation/{run_id}/status").status_code == 200
    assert disabled.get("/api/v1/validation/runs").status_code == 200


def test_async_callbacks_off_records_no_deliveries(database_url, redis_url, tmp_path) -> None:
    on = settings_for(database_url, redis_url, tmp_path)
    off = settings_for(database_url, redis_url, tmp_path, async_callbacks=False)
    ids = {}
    for name, settings in (("on", on), ("off", off)):
        client = app_for(settings).test_client()
        ids[name] = client.post("/api/v1/validation/runs", json=new_body("http://127.0.0.1:9/cb")).get_json()["run_id"]
    store = harness.wired_store(app_for(on).extensions["smvm.store"].db, on)
    assert _deliveries(store, ids["on"]) >= 1
    assert _deliveries(store, ids["off"]) == 0


def test_mock_mode_marks_responses_and_the_stored_run(database_url, redis_url, tmp_path) -> None:
    settings = settings_for(database_url, redis_url, tmp_path, mock_mode=True)
    app = app_for(settings)
    client = app.test_client()
    created = client.post("/api/v1/validation/runs", json=new_body())
    assert created.status_code == 202 and created.get_json()["mode"] == "mock"
    run_id = created.get_json()["run_id"]
    assert client.get(f"/api/v1/validation/{run_id}/status").get_json()["mode"] == "mock"
    assert client.get("/api/v1/validation/nope/status").get_json()["mode"] == "mock"  # errors too
    run, _ = app.extensions["smvm.store"].detail(run_id)
    assert run["request"]["mode"] == "mock"  # what selects the mock stages in the workers
