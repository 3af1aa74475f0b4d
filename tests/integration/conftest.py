"""Integration fixtures: a throwaway PostgreSQL database and Redis dbs of this session's own, and the real process stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
import requests

from smvm.config import Settings
from smvm.runs.store import RunStore
from smvm.store.db import Database
from tests.integration import harness
from workers.app import create_celery
from workers.publishing import CeleryPublisher

pytestmark = pytest.mark.integration

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# No db number: the session claims free dbs of its own (harness.RedisDatabases). A db number names the db the
# main stack uses (flushed before and after); the module-scoped stacks still claim free dbs beside it.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"integration dependency unavailable under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    admin_url = os.environ.get("SMVM_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        psycopg2.connect(admin_url, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        _unavailable(f"PostgreSQL at {admin_url} is unreachable: {exc}")
    with harness.throwaway_database(admin_url, "smvm_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_databases() -> Iterator[harness.RedisDatabases]:
    """The Redis dbs this session owns; every one is flushed when the session ends."""
    base = os.environ.get("SMVM_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    databases = harness.RedisDatabases(base)
    try:
        databases.ping()
    except redis.ConnectionError as exc:
        _unavailable(f"Redis at {base} is unreachable: {exc}")
    try:
        yield databases
    finally:
        databases.release_all()


def _claim(databases: harness.RedisDatabases, *, given: bool = False) -> str:
    try:
        return databases.claim_given() if given else databases.claim()
    except RuntimeError as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable raises


@pytest.fixture(scope="session")
def redis_url(redis_databases: harness.RedisDatabases) -> str:
    """The main stack's db: SMVM_TEST_REDIS_URL's db number when it has one, else a free db."""
    return _claim(redis_databases, given=redis_databases.given_db is not None)


@pytest.fixture(scope="module")
def module_redis_url(redis_databases: harness.RedisDatabases) -> Iterator[str]:
    """A db apart from the main stack's for a module's own processes, so two sets of workers never share a queue."""
    url = _claim(redis_databases)
    try:
        yield url
    finally:
        redis_databases.release(url)


@pytest.fixture
def own_redis_url(redis_databases: harness.RedisDatabases) -> Iterator[str]:
    """Like ``module_redis_url``, for one test."""
    url = _claim(redis_databases)
    try:
        yield url
    finally:
        redis_databases.release(url)


@pytest.fixture(scope="session")
def stack_settings(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        # The shared stack tests the pipeline; tests/integration/test_security.py runs its own with auth on.
        auth_required=False,
        database_url=database_url,
        broker_url=redis_url,
        redis_url=redis_url,
        runs_dir=tmp_path_factory.mktemp("runs"),
        stage_heartbeat_seconds=1.0,
        stage_stale_after_seconds=6.0,
        stage_unstarted_after_seconds=6.0,
        sweeper_interval_seconds=2.0,
        webhook_retry_delays=(1.0, 2.0, 4.0, 8.0, 16.0),
        callback_allow_http=True,
        callback_allowed_hosts=("127.0.0.1", "localhost"),
    )


def settings_environ(settings: Settings) -> dict[str, str]:
    """The same settings as ``SMVM_*`` variables, for child processes."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("SMVM_")}
    for name, value in vars(settings).items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        environ[f"SMVM_{name.upper()}"] = str(value)
    environ["PYTHONUNBUFFERED"] = "1"
    environ["SMVM_ENV_FILE"] = ""  # a developer's .env must not fill in what a test left unset
    return environ


@pytest.fixture(scope="session")
def store(stack_settings: Settings) -> RunStore:
    """The stack's store, driven in this process; the callback hints it publishes reach the stack's workers, as an
    API process's would."""
    publisher = CeleryPublisher(create_celery(stack_settings))
    db = Database(stack_settings.database_url, minconn=1, maxconn=4)  # type: ignore[arg-type]
    return harness.wired_store(db, stack_settings, publisher)


@dataclass
class Stack:
    base_url: str
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, harness.Process] = field(default_factory=dict)

    def api(self, path: str) -> str:
        return f"{self.base_url}/api/v1{path}"

    def post_run(self, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return requests.post(self.api("/validation/runs"), json=body, timeout=30, **kwargs)

    def wait_for_status(self, run_id: str, statuses: tuple[str, ...] = ("COMPLETED",), timeout: float = 90) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            body = requests.get(self.api(f"/validation/{run_id}/status"), timeout=5).json()
            if body["status"] in ("FAILED",) and "FAILED" not in statuses:
                raise AssertionError(f"run failed: {body.get('error')}\n{self.logs()}")
            return body if body["status"] in statuses else None

        return harness.wait_until(reached, timeout=timeout, interval=0.2, what=f"{run_id} in {statuses}")

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{process.log()[-4000:]}" for name, process in self.processes.items())


@pytest.fixture(scope="session")
def stack(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """gunicorn (2 workers) plus one Celery worker process per queue and beat, as the Procfile runs them."""
    log_dir = tmp_path_factory.mktemp("stack-logs")
    env = settings_environ(stack_settings)
    port = harness.free_port()
    env["SMVM_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    stack = Stack(base_url=f"http://127.0.0.1:{port}", settings=stack_settings, env=env, log_dir=log_dir)
    for queue in ("smvm.pipeline", "smvm.simulation", "smvm.callbacks", "smvm.maintenance"):
        stack.processes[queue] = harness.celery_worker(queue, env, log_dir).start()
    stack.processes["beat"] = harness.celery_beat(env, log_dir).start()
    stack.processes["web"] = harness.gunicorn(env, log_dir, port).start()
    try:
        harness.wait_for_http(f"{stack.base_url}/healthz")
        for queue in ("smvm.pipeline", "smvm.simulation", "smvm.callbacks", "smvm.maintenance"):
            harness.wait_for_worker(stack.processes[queue])
        yield stack
    finally:
        harness.stop_all(stack.processes.values())


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[Any]:
    """A private PostgreSQL cluster per test module, for tests that restart or break the database."""
    from tests.integration import servers  # servers builds on this module's Stack

    reason = servers.available()
    if reason:
        _unavailable(reason)
    cluster = servers.PostgresCluster()
    try:
        cluster.init().start()
        yield cluster
    finally:
        cluster.cleanup()
