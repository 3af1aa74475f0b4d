"""Client IP allow-list through the real app: refused callers get 403, health stays open, proxies are honoured."""

from __future__ import annotations

import pytest

from tests.integration.inproc import app_for, settings_for

pytestmark = pytest.mark.integration


def test_caller_outside_the_allow_list_is_refused(database_url, redis_url, tmp_path) -> None:
    settings = settings_for(database_url, redis_url, tmp_path, allowed_client_cidrs=("10.20.0.0/16",),
                            trusted_proxy_count=1)
    client = app_for(settings).test_client()
    outside = {"REMOTE_ADDR": "198.51.100.7"}
    refused = client.get("/api/v1/validation/runs", environ_base=outside)
    assert refused.status_code == 403 and refused.get_json()["details"]["reason"] == "ip_not_allowed"
    assert client.get("/healthz", environ_base=outside).status_code == 200
    inside = client.get("/api/v1/validation/runs", environ_base={"REMOTE_ADDR": "10.20.3.4"})
    assert inside.status_code == 200
    # Behind one trusted proxy the client is the last X-Forwarded-For hop; a forged left-most hop does not help.
    via_proxy = client.get("/api/v1/validation/runs", environ_base={"REMOTE_ADDR": "172.16.0.1"},
                           headers={"X-Forwarded-For": "10.20.9.9, 198.51.100.7"})
    assert via_proxy.status_code == 403
    via_proxy = client.get("/api/v1/validation/runs", environ_base={"REMOTE_ADDR": "172.16.0.1"},
                           headers={"X-Forwarded-For": "198.51.100.7, 10.20.9.9"})
    assert via_proxy.status_code == 200
