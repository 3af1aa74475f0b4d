"""GET /api/v1/integration/health and its metrics against a real TractionBuild stand-in that goes down."""

from __future__ import annotations

import threading

import pytest

from smvm.standin.server import StandIn, make_server
from tests.integration.inproc import app_for, settings_for

pytestmark = pytest.mark.integration


def test_health_turns_unhealthy_when_tractionbuild_is_down(database_url, redis_url, tmp_path) -> None:
    server = make_server(StandIn())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    client = app_for(settings_for(database_url, redis_url, tmp_path, tractionbuild_base_url=base,
                                  integration_health_timeout_seconds=1.0)).test_client()
    try:
        up = client.get("/api/v1/integration/health")
        body = up.get_json()
        assert body["checks"]["api_connectivity"]["healthy"] is True
        assert body["checks"]["api_connectivity"]["evidence"]["status_code"] == 200
        assert {"success_rate", "dead_letters", "open_breakers"} <= set(body["checks"]["webhook_delivery"]["evidence"])
        assert {"last_success_at", "backlog"} <= set(body["checks"]["data_sync"]["evidence"])
        assert all(check["checked_at"] for check in body["checks"].values())
        assert 'smvm_integration_healthy{check="api_connectivity"} 1.0' in client.get("/metrics").get_data(as_text=True)
    finally:
        server.shutdown()
        server.server_close()
    down = client.get("/api/v1/integration/health")
    assert down.status_code == 503 and down.get_json()["api_connectivity"] is False
    assert down.get_json()["checks"]["api_connectivity"]["evidence"]["error"] == "ConnectionError"
    assert 'smvm_integration_healthy{check="api_connectivity"} 0.0' in client.get("/metrics").get_data(as_text=True)
