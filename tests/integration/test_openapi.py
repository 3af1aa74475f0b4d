"""The OpenAPI document: served, and schemathesis with every check finds no request it allows refused, none it
forbids accepted, no answer that breaks it and no 5xx."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
import requests

from smvm.auth.tokens import TokenStore
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
    # What SMVM sends back is documented with the run it answers (smvm/callbacks/schemas.py).
    callbacks = document["paths"]["/api/v1/validation/runs"]["post"]["callbacks"]
    for name, schema in (("validationUpdate", "ValidationUpdate"), ("validationAlert", "ValidationAlert")):
        [operation] = [path["post"] for path in callbacks[name].values()]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
    assert "sequence" in document["components"]["schemas"]["ValidationUpdate"]["required"]


#: The integration contract's own check (issue 18): bounded in examples, and in time by the subprocess timeout.
SCHEMATHESIS_ARGS = ["--checks", "all", "--max-examples", "40", "--seed", "20261204", "--request-timeout", "20",
                     "--generation-database", "none", "--no-color"]


def test_schemathesis_finds_no_failure_with_every_check(fuzz_server) -> None:
    """`schemathesis run --checks all` as an integrator's CI runs it: every request the document allows is accepted,
    every one it forbids is refused, every answer matches it, no 5xx, 405 with Allow. Run from the repository root,
    so schemathesis.toml (and its hook for rules stated only in words) applies, as it does for a person running it."""
    base_url, token = fuzz_server
    result = subprocess.run(
        [str(harness.BIN / "schemathesis"), "run", f"{base_url}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {token}", *SCHEMATHESIS_ARGS],
        cwd=harness.ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert re.search(r"\d+ generated, \d+ passed", summary), summary
    assert "failures" not in summary.splitlines()[-1], summary
