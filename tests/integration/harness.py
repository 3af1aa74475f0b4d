"""Real processes for integration tests: Celery workers per queue, beat, gunicorn, and condition waits."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import redis
import requests

from smvm.callbacks.outbox import Outbox, Publisher
from smvm.config import Settings
from smvm.runs.store import RunStore
from smvm.store.db import Database, upgrade

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wired_store(db: Database, settings: Settings, publisher: Publisher | None = None) -> RunStore:
    """A run store joined to the callbacks outbox the way the processes join theirs (``api.create_app``,
    ``workers.context``); without a publisher its deliveries wait for the due-poller, as the CLI's do."""
    return RunStore(db, settings, event_hooks=[Outbox(settings, publisher).record])


def wait_until(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last error on timeout
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error!r})" if last_error else ""))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process with its output in a log file, stopped on teardown."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            self._close_log()
            return
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        self._close_log()

    def kill(self) -> None:
        if self.alive():
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        self._close_log()

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()


def worker_hostname(queue: str, name: str | None = None) -> str:
    """The node name :func:`celery_worker` gives the worker of ``queue``, as Celery's control commands address it."""
    return f"{name or queue.rsplit('.', 1)[-1]}-{os.getpid()}@{socket.gethostname()}"


def celery_worker(queue: str, env: dict[str, str], log_dir: Path, *, concurrency: int = 1, name: str | None = None) -> Process:
    short = name or queue.rsplit(".", 1)[-1]
    argv = [
        str(BIN / "celery"), "-A", "workers.celery_app", "worker", "--queues", queue,
        "--hostname", worker_hostname(queue, name), "--concurrency", str(concurrency), "--pool", "prefork",
        "--prefetch-multiplier", "1", "--without-mingle", "--without-gossip", "--loglevel", "INFO",
    ]
    return Process(f"worker-{short}", argv, env, log_dir)


def celery_beat(env: dict[str, str], log_dir: Path, name: str = "beat") -> Process:
    schedule = log_dir / f"{name}-schedule"
    argv = [str(BIN / "celery"), "-A", "workers.celery_app", "beat", "--loglevel", "INFO", "--schedule", str(schedule)]
    return Process(name, argv, env, log_dir)


def gunicorn(env: dict[str, str], log_dir: Path, port: int, workers: int = 2) -> Process:
    argv = [
        str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "gthread",
        "--threads", "4", "--timeout", "60", "api.wsgi:application",
    ]
    return Process("web", argv, env, log_dir)


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    wait_until(lambda: requests.get(url, timeout=1).status_code == 200, timeout=timeout, what=url)


def wait_for_worker(process: Process, timeout: float = 30.0) -> None:
    def ready() -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited:\n{process.log()[-3000:]}")
        return " ready." in process.log()

    wait_until(ready, timeout=timeout, what=f"{process.name} ready")


def stop_all(processes: Iterable[Process]) -> None:
    for process in processes:
        process.stop()


def flower(env: dict[str, str], log_dir: Path, port: int, auth: tuple[str, str], name: str = "flower") -> Process:
    """Flower as the Procfile starts it (python -m workers.flower), on its own port and login."""
    argv = [str(BIN / "python"), "-m", "workers.flower", "--address=127.0.0.1", "--persistent=False"]
    env = {**env, "SMVM_FLOWER_PORT": str(port), "SMVM_FLOWER_BASIC_AUTH": f"{auth[0]}:{auth[1]}"}
    return Process(name, argv, env, log_dir)


def wait_for_flower_events(base: str, auth: tuple[str, str], timeout: float = 30.0) -> None:
    """Flower answers HTTP before its event receiver consumes; the stack's beat ticks every few seconds, so the
    first task Flower lists proves events flow and a run posted now is seen from its first stage."""
    wait_for_http(f"{base}/healthcheck", timeout=timeout)
    wait_until(
        lambda: requests.get(f"{base}/api/tasks", params={"limit": 1}, auth=auth, timeout=5).json(),
        timeout=timeout, interval=0.5, what="Flower receiving task events",
    )


@contextlib.contextmanager
def throwaway_database(admin_url: str, prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A database of its own on the server behind ``admin_url``, migrated unless told not to, dropped afterwards
    even if connections to it are still open."""
    admin = psycopg2.connect(admin_url, connect_timeout=3)
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        if migrate:
            upgrade(Database(url, minconn=1, maxconn=1))
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class RedisDatabases:
    """Redis databases this test session owns on a shared server, so two suites (or a suite and `make up`) on one
    machine never consume each other's Celery messages, and nothing is left behind.

    A database is claimed by writing a lease key with ``SET NX`` and keeping it only if the lease is then the
    database's sole key: an empty database nobody else leased. Suites that predate leases flushed fixed dbs 10-13,
    and db 0 is the developer's, so those come last or never. ``release`` flushes what the session wrote.
    """

    LEASE_KEY = "smvm:test-session-lease"
    LEASE_TTL_SECONDS = 4 * 3600  # longer than any suite; a crashed session's lease must not block a db forever
    _SEARCH_ORDER = (*range(1, 10), 14, 15, 10, 11, 12, 13)

    def __init__(self, server_url: str, *, session_id: str | None = None) -> None:
        parts = urlsplit(server_url)
        self._base = parts
        self.session_id = session_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.given_db = int(parts.path.strip("/")) if parts.path.strip("/") else None
        self._held: dict[int, redis.Redis] = {}

    @property
    def server_url(self) -> str:
        return urlunsplit(self._base._replace(path=""))

    def url(self, db: int) -> str:
        return urlunsplit(self._base._replace(path=f"/{db}"))

    def _client(self, db: int) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_connect_timeout=2, socket_timeout=5)

    def ping(self) -> None:
        """:raises redis.ConnectionError: when the server does not answer."""
        self._client(self.given_db or 0).ping()

    def claim_given(self) -> str:
        """The db named in the configured URL, which the caller set aside for tests: leftovers in it are flushed,
        but a db leased by another live session is refused rather than shared.

        :raises RuntimeError: when another session holds it.
        """
        assert self.given_db is not None
        client = self._client(self.given_db)
        holder = client.get(self.LEASE_KEY)
        if holder is not None and holder.decode() != self.session_id:
            raise RuntimeError(f"Redis db {self.given_db} is leased by another test session ({holder.decode()})")
        client.flushdb()
        client.set(self.LEASE_KEY, self.session_id, ex=self.LEASE_TTL_SECONDS)
        self._held[self.given_db] = client
        return self.url(self.given_db)

    def claim(self) -> str:
        """A free db of its own (empty, unleased), leased to this session until ``release``.

        :raises RuntimeError: when every candidate db is in use.
        """
        for db in self._SEARCH_ORDER:
            if db == self.given_db or db in self._held:
                continue
            client = self._client(db)
            if not client.set(self.LEASE_KEY, self.session_id, nx=True, ex=self.LEASE_TTL_SECONDS):
                continue
            # Our lease went in; any other key means someone is using this db without a lease.
            if client.dbsize() == 1:
                self._held[db] = client
                return self.url(db)
            if client.get(self.LEASE_KEY) == self.session_id.encode():
                client.delete(self.LEASE_KEY)
        raise RuntimeError(f"no free Redis db on {self.server_url}: every candidate holds data")

    def release(self, url: str) -> None:
        """Flush a claimed db: everything in it is this session's (its lease included)."""
        db = int(urlsplit(url).path.strip("/"))
        client = self._held.pop(db, None)
        if client is not None:
            client.flushdb()
            client.close()

    def release_all(self) -> None:
        for db in list(self._held):
            self.release(self.url(db))

    def held(self) -> list[int]:
        return sorted(self._held)
