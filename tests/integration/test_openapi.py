"""The OpenAPI document: served, valid, and a property-based fuzz of every operation finds no 5xx and no
response that breaks the document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from smvm.auth.services import TokenStore
from smvm.config import Settings
from smvm.store.db import Database
from tests.integration import harness
from tests.integration.conftest import settings_environ

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_server(stack_settings: Settings, module_redis_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The API under gunicorn with auth on and no workers: fuzzed runs are recorded and enqueued, never run."""
    broker = module_redis_url
    settings = stack_settings.with_overrides(
        auth_required=True, broker_url=broker, redis_url=broker, runs_dir=tmp_path_factory.mktemp("fuzz-runs"),
        rate_limit_create="100000/minute", rate_limit_status="100000/minute", rate_limit_results="100000/minute",
        rate_limit_complete="100000/minute", rate_limit_finalize="100000/minute", rate_limit_default="100000/minute",
    )
    raw, _ = TokenStore(Database(settings.database_url, maxconn=1)).create("fuzz", ["runs:admin"], ["*"])  # type: ignore[arg-type]
    port = harness.free_port()
    web = harness.gunicorn(settings_environ(settings), tmp_path_factory.mktemp("fuzz-logs"), port, workers=2).start()
    try:
        harness.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", raw
    finally:
        web.stop()


def test_document_is_served_without_auth(fuzz_server) -> None:
    base_url, _ = fuzz_server
    document = requests.get(f"{base_url}/api/v1/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/validation/runs" in document["paths"]
    request_body = document["paths"]["/api/v1/validation/runs"]["post"]["requestBody"]["content"]["application/json"]
    assert len(request_body["schema"]["oneOf"]) == 3, "the three accepted request shapes"
    # What SMVM sends back is documented with the run it answers (smvm/webhooks/schemas.py).
    callbacks = document["paths"]["/api/v1/validation/runs"]["post"]["callbacks"]
    for name, schema in (("validationUpdate", "ValidationUpdate"), ("validationAlert", "ValidationAlert")):
        [operation] = [path["post"] for path in callbacks[name].values()]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
    assert "sequence" in document["components"]["schemas"]["ValidationUpdate"]["required"]


def _operations(base_url: str) -> list:
    loaded = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


def test_fuzz_every_operation(fuzz_server) -> None:
    """Hypothesis drives each operation (schemathesis's pytest plugin does not support this pytest yet)."""
    base_url, token = fuzz_server
    operations = _operations(base_url)
    assert len(operations) >= 10
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    for operation in operations:

        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=checks, timeout=30)

        fuzz()
