"""Throwaway Redis and PostgreSQL servers for fault tests, so flushing or restarting them disturbs nobody else.

Each server is a real process on a free port that this module starts, stops and restarts by its own PID
(never by name); ``stop`` is safe to call twice and removes the server's files.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg2
import redis

from smvm.config import Settings
from smvm.store.db import Database, upgrade
from tests.integration import harness
from tests.integration.conftest import Stack, settings_environ
from tests.integration.harness import free_port, wait_until

PG_BIN = Path(os.environ.get("SMVM_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def available() -> str | None:
    """Why these servers cannot run here, or ``None`` when they can."""
    if not Path(REDIS_SERVER).exists():
        return "redis-server is not installed"
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL binaries not found in {PG_BIN}"
    return None


class RedisServer:
    """``redis-server`` without persistence on a free port: a restart loses every key, as a crash would."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="smvm-redis-"))

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> RedisServer:
        argv = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", str(self._dir),
        ]
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._ready, timeout=15, what=f"redis-server on port {self.port}")
        return self

    def _ready(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            raise AssertionError(f"redis-server exited:\n{self.log_path.read_text(errors='replace')[-2000:]}")
        return bool(self.client().ping())

    def stop(self) -> None:
        """Stop the server process (SIGTERM, then SIGKILL); its data is gone with it."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.popen = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class PostgresCluster:
    """A private PostgreSQL cluster (``initdb`` + ``pg_ctl``) run as the ``postgres`` user, trust auth, free port.

    Durability is switched off (``fsync=off``): these clusters live for one test session.
    """

    user = "postgres"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        # Under /tmp itself: pytest's tmp dirs are 0700 root, which the postgres user cannot enter.
        self.base = Path(tempfile.mkdtemp(prefix="smvm-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "server.log"
        entry = pwd.getpwnam(self.user)
        os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self._started = False

    def _as_postgres(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        runuser = ["runuser", "-u", self.user, "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*runuser, *argv], cwd=self.base, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                                 f"\n{self.log()[-2000:]}")
        return result

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresCluster:
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8", "--no-sync",
            "--no-instructions",
        )
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "30",
            action, *extra,
        )

    def start(self) -> PostgresCluster:
        self._pg_ctl("start")
        self._started = True
        wait_until(self._ready, timeout=30, what=f"PostgreSQL on port {self.port}")
        return self

    def _ready(self) -> bool:
        psycopg2.connect(self.url(), connect_timeout=2).close()
        return True

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m fast``: every client connection is cut, the server is back when this returns."""
        self._pg_ctl("restart", "-m", mode)
        wait_until(self._ready, timeout=30, what=f"PostgreSQL back on port {self.port}")

    def create_database(self, name: str) -> str:
        admin = psycopg2.connect(self.url(), connect_timeout=3)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        return self.url(name)

    def cleanup(self) -> None:
        if self._started:
            try:
                self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
            except (AssertionError, subprocess.TimeoutExpired):
                self._kill_postmaster()
            self._started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """Last resort: SIGKILL the postmaster this cluster started (its PID is the first line of postmaster.pid)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# -- a dedicated stack pointed at throwaway servers -------------------------------------------------------------

#: Fast recovery, so a lost message or a dead worker costs seconds: the sweeper runs every second and treats a
#: stage as stuck after 3 s without a heartbeat (heartbeats every 0.5 s) or 3 s enqueued and never started.
FAST_RECOVERY = {
    "stage_heartbeat_seconds": 0.5,
    "stage_stale_after_seconds": 3.0,
    "stage_unstarted_after_seconds": 3.0,
    "sweeper_interval_seconds": 1.0,
    "delivery_poll_seconds": 1.0,
    "results_sync_tick_seconds": 3600.0,
    "auth_required": False,
    "callback_allow_http": True,
    "callback_allowed_hosts": ("127.0.0.1", "localhost"),
}

STACK_QUEUES = ("smvm.pipeline", "smvm.simulation", "smvm.callbacks", "smvm.maintenance")


def fault_settings(cluster: PostgresCluster, redis_server: RedisServer, work_dir: Path, **overrides: object) -> Settings:
    """Settings for one dedicated stack: a fresh database in ``cluster``, db 0 of ``redis_server``, fast recovery."""
    name = f"smvm_fault_{uuid.uuid4().hex[:10]}"
    url = cluster.create_database(name)
    db = Database(url, minconn=1, maxconn=1)
    upgrade(db)
    db.close()
    runs_dir = work_dir / "runs"
    probes = work_dir / "probes"
    runs_dir.mkdir(parents=True, exist_ok=True)
    probes.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "env": "test",
        "database_url": url,
        "broker_url": redis_server.url(0),
        "redis_url": redis_server.url(0),
        "runs_dir": runs_dir,
        "probe_dir": probes,
        **FAST_RECOVERY,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.contextmanager
def running_stack(settings: Settings, log_dir: Path, *, concurrency: dict[str, int] | None = None) -> Iterator[Stack]:
    """gunicorn, one Celery worker per queue and beat, all pointed at ``settings``; every process stopped on exit."""
    concurrency = concurrency or {}
    env = settings_environ(settings)
    port = free_port()
    env["SMVM_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(base_url=f"http://127.0.0.1:{port}", settings=settings, env=env, log_dir=log_dir)
    try:
        for queue in STACK_QUEUES:
            stack.processes[queue] = harness.celery_worker(queue, env, log_dir, concurrency=concurrency.get(queue, 1)).start()
        stack.processes["beat"] = harness.celery_beat(env, log_dir).start()
        stack.processes["web"] = harness.gunicorn(env, log_dir, port, workers=1).start()
        harness.wait_for_http(f"{stack.base_url}/healthz", timeout=60)
        for queue in STACK_QUEUES:
            harness.wait_for_worker(stack.processes[queue], timeout=60)
        yield stack
    finally:
        stop_together(stack.processes.values())


def stop_together(processes: Iterable[harness.Process], timeout: float = 20.0) -> None:
    """SIGTERM every process group at once, then wait; SIGKILL whatever is still up at the deadline."""
    processes = [process for process in processes if process.alive()]
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        assert process.popen is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(max(0.1, deadline - time.monotonic()))
    for process in processes:
        process.kill()  # SIGKILLs the group if still alive; closes the log either way
