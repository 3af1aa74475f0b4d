"""Access control, rate limits, idempotency keys, hostile input and SSRF against the API under gunicorn (2 processes)."""

from __future__ import annotations

import concurrent.futures
import copy
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from smvm.auth.tokens import TokenStore
from smvm.config import Settings
from smvm.store.db import Database
from tests.bad_inputs import BAD_BODIES, BAD_RAW, VALID
from tests.integration import harness
from tests.integration.conftest import settings_environ

pytestmark = pytest.mark.integration

LIMITS = {"create": 250, "status": 40, "results": 30, "complete": 20, "finalize": 10}


@dataclass
class SecureStack:
    base_url: str
    settings: Settings
    tokens: TokenStore
    web: harness.Process

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/v1{path}"

    def token(self, scopes: str = "runs:read,runs:write", projects: str = "SEC-*", **kwargs) -> str:
        raw, _ = self.tokens.create(f"test-{uuid.uuid4().hex[:6]}", scopes.split(","), projects.split(","), **kwargs)
        return raw


@pytest.fixture(scope="module")
def secure(stack_settings: Settings, module_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    broker = module_redis_url
    settings = stack_settings.with_overrides(
        auth_required=True,
        broker_url=broker,
        redis_url=broker,
        runs_dir=tmp_path_factory.mktemp("secure-runs"),
        callback_allow_http=False,
        callback_allowed_hosts=(),
        rate_limit_create=f"{LIMITS['create']}/minute",
        rate_limit_status=f"{LIMITS['status']}/minute",
        rate_limit_results=f"{LIMITS['results']}/minute",
        rate_limit_complete=f"{LIMITS['complete']}/minute",
        rate_limit_finalize=f"{LIMITS['finalize']}/minute",
    )
    port = harness.free_port()
    web = harness.gunicorn(settings_environ(settings), tmp_path_factory.mktemp("secure-logs"), port, workers=2).start()
    try:
        harness.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield SecureStack(f"http://127.0.0.1:{port}", settings, TokenStore(Database(settings.database_url, maxconn=2)), web)
    finally:
        web.stop()


def _body(project: str = "SEC-1", **changes) -> dict:
    body = copy.deepcopy(VALID)
    body["project_id"] = project
    body.update(changes)
    return body


@pytest.fixture(scope="module")
def own_run(secure: SecureStack) -> dict:
    token = secure.token(projects="SEC-*")
    response = requests.post(secure.url("/validation/runs"), json=_body("SEC-OWN"), timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    return response.json()


ENDPOINTS = [
    ("POST", "/validation/runs", "runs:write"),
    ("GET", "/validation/runs", "runs:read"),
    ("GET", "/validation/{id}/status", "runs:read"),
    ("GET", "/validation/{id}/results", "runs:read"),
    ("GET", "/validation/{id}/gate", "runs:read"),
    ("GET", "/validation/{id}/artifacts/meta.json", "runs:read"),
    ("PUT", "/validation/{id}/complete", "runs:write"),
    ("POST", "/validation/{id}/finalize", "runs:write"),
    ("POST", "/validation/{id}/cancel", "runs:write"),
]


def _call(secure: SecureStack, method: str, path: str, run: dict, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = _body("SEC-MATRIX") if path == "/validation/runs" and method == "POST" else {}
    return requests.request(method, secure.url(path.format(id=run["run_id"])), json=body, headers=headers, timeout=10)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_auth_matrix(secure: SecureStack, own_run: dict, method: str, path: str, scope: str) -> None:
    cases = {
        "missing": None,
        "malformed": "not-a-token",
        "unknown": "smvm_000000000000_" + "x" * 43,
        "expired": secure.token(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)),
    }
    revoked = secure.token()
    secure.tokens.revoke(revoked.split("_")[1])
    cases["revoked"] = revoked
    for case, token in cases.items():
        response = _call(secure, method, path, own_run, token)
        assert response.status_code == 401, (case, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
        assert response.json()["error"] == "UNAUTHORIZED"

    other_scope = "runs:read" if scope == "runs:write" else "runs:write"
    wrong_scope = _call(secure, method, path, own_run, secure.token(scopes=other_scope))
    assert wrong_scope.status_code == 403 and wrong_scope.json()["error"] == "FORBIDDEN"

    other_project = _call(secure, method, path, own_run, secure.token(projects="OTHER-*"))
    if path == "/validation/runs":
        # Creating for a project the token may not touch is forbidden; listing shows nothing of other projects.
        expected = 403 if method == "POST" else 200
        assert other_project.status_code == expected, other_project.text
        if method == "GET":
            assert other_project.json()["total"] == 0
    else:
        assert other_project.status_code == 404, "another project's run must look like a missing one"
        assert other_project.json()["error"] == "NOT_FOUND"

    allowed = _call(secure, method, path, own_run, secure.token(scopes="runs:read,runs:write"))
    assert allowed.status_code not in (401, 403), allowed.text


def test_probes_stay_open_and_calls_are_audited(secure: SecureStack, own_run: dict) -> None:
    assert requests.get(f"{secure.base_url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{secure.base_url}/readyz", timeout=5).status_code == 200
    token = secure.token()
    requests.get(secure.url(f"/validation/{own_run['run_id']}/status"), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    requests.get(secure.url(f"/validation/{own_run['run_id']}/status"), headers={"Authorization": "Bearer nope"}, timeout=5)
    with secure.tokens.db.transaction() as cur:
        cur.execute("SELECT token_name, method, path, status, outcome FROM audit_log WHERE path = %s ORDER BY id DESC LIMIT 5",
                    (f"/api/v1/validation/{own_run['run_id']}/status",))
        rows = cur.fetchall()
    assert any(r["outcome"] == "ok" and r["token_name"] and r["status"] == 200 for r in rows)
    assert any(r["outcome"] == "denied" and r["status"] == 401 for r in rows)


def _burst(method: str, url: str, count: int, token: str, body: dict | None = None) -> list[requests.Response]:
    # One connection per request, closed by both sides: gunicorn's gthread worker can leave a fresh keep-alive
    # connection unserved until the client times out when many arrive at once (seen under load here).
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda _: requests.request(method, url, json=body, headers=headers, timeout=30), range(count)))


@pytest.mark.parametrize(("name", "method", "path"), [
    ("create", "POST", "/validation/runs"),
    ("status", "GET", "/validation/{id}/status"),
    ("results", "GET", "/validation/{id}/results"),
    ("complete", "PUT", "/validation/{id}/complete"),
    ("finalize", "POST", "/validation/{id}/finalize"),
])
def test_burst_over_each_limit_gets_429_across_processes(secure, own_run, name, method, path) -> None:
    token = secure.token()
    limit = LIMITS[name]
    body = _body("SEC-BURST") if name == "create" else {}
    responses = _burst(method, secure.url(path.format(id=own_run["run_id"])), limit + 10, token, body)
    limited = [r for r in responses if r.status_code == 429]
    # A moving window shared through Redis: exactly `limit` get through, whichever gunicorn process served them.
    assert len(responses) - len(limited) == limit
    assert len(limited) == 10
    sample = limited[0]
    assert int(sample.headers["Retry-After"]) > 0
    # Only an answer that asks the client to wait says how long (the limiter would stamp every answer).
    assert not [r.status_code for r in responses if r.status_code != 429 and "Retry-After" in r.headers]
    assert sample.headers["X-RateLimit-Limit"] == str(limit)
    assert sample.json()["error"] == "RATE_LIMITED"


def test_one_idempotency_key_creates_one_run(secure: SecureStack) -> None:
    token = secure.token()
    key = f"key-{uuid.uuid4()}"
    project = f"SEC-IDEM-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    body = _body(project)
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        responses = list(pool.map(
            lambda _: requests.post(secure.url("/validation/runs"), json=body, headers=headers, timeout=30), range(200)))
    statuses = {r.status_code for r in responses}
    assert statuses <= {202, 409}, statuses
    in_use = [r for r in responses if r.status_code == 409]
    assert all(r.json()["error"] == "IDEMPOTENCY_KEY_IN_USE" for r in in_use)
    with secure.tokens.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM runs WHERE project_id = %s", (project,))
        assert cur.fetchone()["n"] == 1
    run_ids = {r.json()["run_id"] for r in responses if r.status_code == 202}
    assert len(run_ids) == 1

    replay = requests.post(secure.url("/validation/runs"), json=body, headers=headers, timeout=10)
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["run_id"] in run_ids
    different = requests.post(secure.url("/validation/runs"), json=_body(project + "-x"), headers=headers, timeout=10)
    assert different.status_code == 409 and different.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    too_long = requests.post(secure.url("/validation/runs"), json=body, timeout=10,
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k" * 256})
    assert too_long.status_code == 400


def _hostile_cases() -> list[tuple[str, str, str, dict, bytes | None]]:
    """(id, method, path, headers, raw body) — at least 100 requests that must never get a 5xx."""
    import json

    cases: list[tuple[str, str, str, dict, bytes | None]] = []
    for case, body, _ in BAD_BODIES:
        cases.append((f"body-{case}", "POST", "/validation/runs", {"Content-Type": "application/json"}, json.dumps(body).encode()))
    for case, raw, content_type, _ in BAD_RAW:
        cases.append((f"raw-{case}", "POST", "/validation/runs", {"Content-Type": content_type}, raw))
    for i, ident in enumerate(["..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "RUN-x%00y", "a" * 3000, "%ff%fe", "RUN-'; DROP TABLE runs;--",
                               "<script>", "%0d%0aSet-Cookie:x=1", "VAL-" + "9" * 300]):
        for suffix in ("status", "results", "gate", "artifacts/meta.json", "artifacts/../../etc/passwd"):
            cases.append((f"id-{i}-{suffix}", "GET", f"/validation/{ident}/{suffix}", {}, None))
    for i, value in enumerate(["1e999", "-1", "99999999999999999999999", "[]", "{}", '"x"', "null", "true"]):
        raw = f'{{"project_id": "SEC-H", "business_idea": {{"description": "d", "estimated_tam": {value}}}}}'.encode()
        cases.append((f"number-{i}", "POST", "/validation/runs", {"Content-Type": "application/json"}, raw))
    for i, header in enumerate(["bad\x7fvalue", "x" * 6000, "ok", "CORR-\u00e9"]):
        value = header.encode("utf-8", "replace").decode("latin-1")
        cases.append((f"corr-{i}", "GET", "/validation/runs", {"X-Correlation-ID": value}, None))
    for i, query in enumerate(["limit=-1", "limit=abc", "offset=99999999999", "created_after=notadate", "status=%00", "project_id=../x"]):
        cases.append((f"query-{i}", "GET", f"/validation/runs?{query}", {}, None))
    unicode_body = json.dumps(_body("SEC-UNI", business_idea={**VALID["business_idea"], "title": "\ud83d\ude00" * 50})).encode()
    cases.append(("unicode-title", "POST", "/validation/runs", {"Content-Type": "application/json"}, unicode_body))
    cases.append(("wrong-method", "DELETE", "/validation/runs", {}, None))
    cases.append(("put-complete-garbage", "PUT", "/validation/RUN-x/complete", {"Content-Type": "application/json"}, b"[[[["))
    return cases


HOSTILE = _hostile_cases()


def test_hostile_corpus_gets_no_5xx(secure: SecureStack) -> None:
    assert len(HOSTILE) >= 100
    token = secure.token(scopes="runs:read,runs:write,runs:admin", projects="*")
    failures = []
    for case, method, path, headers, raw in HOSTILE:
        url = secure.url(path)
        response = requests.request(method, url, data=raw, headers={**headers, "Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code >= 500 or not (200 <= response.status_code < 500):
            failures.append((case, response.status_code, response.text[:200]))
        elif response.status_code >= 400:
            assert response.json()["error"], case
    assert not failures, failures
    assert not any(p.name in ("..", "etc") for p in secure.settings.runs_dir.iterdir())


def test_requests_beyond_http_limits_are_4xx(secure: SecureStack) -> None:
    """Past gunicorn's request-line and header-size limits the server itself refuses, before the app (not JSON)."""
    assert requests.get(secure.url("/validation/" + "a" * 9000 + "/status"), timeout=10).status_code in (400, 414)
    assert requests.get(secure.url("/validation/runs"), headers={"X-Junk": "x" * 20000}, timeout=10).status_code in (400, 431)


SSRF_URLS = [
    "http://example.com/cb",                 # plain http outside development
    "https://127.0.0.1/cb",
    "https://localhost/cb",
    "https://10.0.0.5/cb",
    "https://172.16.3.4/cb",
    "https://192.168.1.1/cb",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/cb",
    "https://[::ffff:127.0.0.1]/cb",
    "https://[fd00::1]/cb",
    "https://100.64.0.1/cb",
    "https://0.0.0.0/cb",
    "https://user:pass@8.8.8.8/cb",
    "https://no-such-host.invalid/cb",
]


def _readme_canonical_body() -> dict:
    """The JSON of the README's canonical `curl -X POST .../validation/runs ... -d '{...}'` example, as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### `POST /api/v1/validation/runs`"):]
    return json.loads(section[section.index("-d '{") + 4:section.index("}'") + 1])


def test_readme_canonical_example_is_accepted_whatever_dns_says(secure: SecureStack) -> None:
    """Its callback host (tractionbuild.example.com) does not resolve here: intake checks syntax, scheme and
    literal addresses only, and the name is resolved and checked when a callback is sent."""
    body = _readme_canonical_body()
    body["project_id"] = "SEC-README"
    response = requests.post(secure.url("/validation/runs"), json=body, timeout=10,
                             headers={"Authorization": f"Bearer {secure.token()}"})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("url", SSRF_URLS)
def test_ssrf_corpus_is_refused_at_submission(secure: SecureStack, url: str) -> None:
    token = secure.token()
    body = _body("SEC-SSRF")
    body["metadata"] = {**body["metadata"], "callback_url": url}
    response = requests.post(secure.url("/validation/runs"), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 400, response.text
    assert "metadata.callback_url" in response.json()["details"]
    with secure.tokens.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM runs WHERE project_id = 'SEC-SSRF'")
        assert cur.fetchone()["n"] == 0


def test_maintenance_mode_refuses_writes_but_serves_reads(stack_settings: Settings, tmp_path_factory, own_run) -> None:
    settings = stack_settings.with_overrides(maintenance_mode=True, maintenance_retry_after_seconds=900)
    port = harness.free_port()
    web = harness.gunicorn(settings_environ(settings), tmp_path_factory.mktemp("maint-logs"), port, workers=1).start()
    try:
        base = f"http://127.0.0.1:{port}"
        harness.wait_for_http(f"{base}/healthz")
        write = requests.post(f"{base}/api/v1/validation/runs", json=_body("SEC-MAINT"), timeout=10)
        assert write.status_code == 503 and write.headers["Retry-After"] == "900"
        assert write.json()["error"] == "MAINTENANCE"
        assert requests.get(f"{base}/api/v1/validation/{own_run['run_id']}/status", timeout=10).status_code == 200
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    finally:
        web.stop()


def _smvm(settings: Settings, *args: str) -> str:
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([str(Path(sys.executable).parent / "smvm"), *args], env=settings_environ(settings),
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_tokens_cli_create_list_revoke(secure: SecureStack, own_run: dict) -> None:
    output = _smvm(secure.settings, "tokens", "create", "--name", "cli-made", "--scopes", "runs:read",
                   "--projects", "SEC-*", "--expires-in", "1d")
    raw = output.strip().splitlines()[-1]
    token_id = raw.split("_")[1]
    assert raw.startswith("smvm_") and "Store this token now" in output
    with secure.tokens.db.transaction() as cur:
        cur.execute("SELECT token_hash FROM api_tokens WHERE token_id = %s", (token_id,))
        assert cur.fetchone()["token_hash"] != raw, "only the hash is stored"
    url = secure.url(f"/validation/{own_run['run_id']}/status")
    assert requests.get(url, headers={"Authorization": f"Bearer {raw}"}, timeout=10).status_code == 200
    listing = _smvm(secure.settings, "tokens", "list")
    assert token_id in listing and raw not in listing
    assert f"revoked {token_id}" in _smvm(secure.settings, "tokens", "revoke", token_id)
    assert requests.get(url, headers={"Authorization": f"Bearer {raw}"}, timeout=10).status_code == 401


def test_metrics_can_require_an_admin_token(stack_settings: Settings, tmp_path_factory, secure: SecureStack) -> None:
    settings = secure.settings.with_overrides(metrics_public=False)
    port = harness.free_port()
    web = harness.gunicorn(settings_environ(settings), tmp_path_factory.mktemp("closed-metrics"), port, workers=1).start()
    try:
        base = f"http://127.0.0.1:{port}"
        harness.wait_for_http(f"{base}/healthz")
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
        reader = secure.token(scopes="runs:read")
        assert requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {reader}"}, timeout=10).status_code == 403
        admin = secure.token(scopes="runs:admin")
        answer = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert answer.status_code == 200 and "smvm_" in answer.text
        assert requests.get(f"{secure.base_url}/metrics", timeout=10).status_code == 200, "public by default"
    finally:
        web.stop()
