"""A scheduled maintenance window in progress refuses writes with Retry-After at its end; reads and listing work."""

from __future__ import annotations

import pytest

from tests.integration.inproc import app_for, new_body, settings_for

pytestmark = pytest.mark.integration


def test_window_in_progress_refuses_writes_until_its_end(database_url, redis_url, tmp_path) -> None:
    clock = tmp_path / "clock"
    clock.write_text("2025-01-05T03:15:00Z")  # a Sunday, inside the seed's 02:00-04:00 UTC window
    settings = settings_for(database_url, redis_url, tmp_path, maintenance_windows=("SUN 02:00-04:00",),
                            clock_file=clock)
    client = app_for(settings).test_client()
    refused = client.post("/api/v1/validation/runs", json=new_body())
    assert refused.status_code == 503 and refused.get_json()["error"] == "MAINTENANCE"
    assert refused.headers["Retry-After"] == str(45 * 60)
    assert refused.get_json()["details"]["ends_at"] == "2025-01-05T04:00:00Z"
    assert client.get("/api/v1/validation/runs").status_code == 200
    listing = client.get("/api/v1/maintenance/windows").get_json()
    assert listing["in_maintenance"] is True
    assert listing["windows"][0] == {"window": "SUN 02:00-04:00", "starts_at": "2025-01-05T02:00:00Z",
                                     "ends_at": "2025-01-05T04:00:00Z", "in_progress": True}
    clock.write_text("2025-01-05T04:00:01Z")
    assert client.post("/api/v1/validation/runs", json=new_body()).status_code == 202
