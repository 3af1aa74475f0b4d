"""PostgreSQL access: a thread-safe psycopg2 pool, transactions as context managers, and migrations."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Iterator
from importlib import resources

import psycopg2
import psycopg2.extras
import psycopg2.pool

from smvm.errors import DependencyUnavailableError

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 0x534D564D

#: Errors worth retrying: the server went away or a connection broke. Anything else is a bug or bad data.
TRANSIENT_DB_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)

def _is_dead(conn: psycopg2.extensions.connection) -> bool:
    """Whether a pooled, idle connection is unusable, without a round trip.

    An idle connection has nothing to read. If its socket is readable the server has closed it or sent a FATAL
    notice (a restart, ``pg_terminate_backend``), and the next query would fail: discard it instead.
    """
    if conn.closed:
        return True
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg2.Error):
        return True


class Database:
    """A lazily opened connection pool; safe to create before fork and use after it."""

    def __init__(self, url: str, *, minconn: int = 1, maxconn: int = 10, connect_timeout: int = 5) -> None:
        self.url = url
        self._minconn = minconn
        self._maxconn = maxconn
        self._connect_timeout = connect_timeout
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:

        with self._lock:
            # A pool inherited across fork shares sockets with the parent; open a fresh one per process.
            if self._pool is None or self._pid != os.getpid():
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    self._minconn,
                    self._maxconn,
                    self.url,
                    connect_timeout=self._connect_timeout,
                    application_name="smvm",
                )
                # psycopg2 closes a returned connection whenever ``minconn`` are already idle, so under concurrency
                # most transactions would open a new connection (a server process fork, ~ms of CPU each). Keep
                # every connection the pool opened, up to ``maxconn``; ``minconn`` still sets how many open at start.
                self._pool.minconn = self._maxconn
                self._pid = os.getpid()
            return self._pool

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """Yield a dict cursor inside one transaction: commit on success, roll back on error.

        :raises DependencyUnavailableError: when PostgreSQL cannot be reached.
        """
        try:
            pool = self._get_pool()
            conn = pool.getconn()
            # After a PostgreSQL restart every idle pooled connection is dead; replace those before use, so the
            # first request after the restart succeeds instead of failing with "server closed the connection".
            for _ in range(self._maxconn):
                if not _is_dead(conn):
                    break
                pool.putconn(conn, close=True)
                conn = pool.getconn()
        except (psycopg2.OperationalError, psycopg2.pool.PoolError) as exc:
            raise DependencyUnavailableError("PostgreSQL is unavailable", details={"dependency": "postgresql"}) from exc
        broken = False
        try:
            if conn.closed:
                raise psycopg2.InterfaceError("connection already closed")
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
            conn.commit()
        except BaseException as exc:
            broken = isinstance(exc, TRANSIENT_DB_ERRORS) or conn.closed != 0
            if not conn.closed:
                with contextlib.suppress(psycopg2.Error):
                    conn.rollback()
            raise
        finally:
            pool.putconn(conn, close=broken)

    def ping(self) -> None:
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.closeall()
            self._pool = None


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("smvm.store") / "migrations"
    files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text()) for name in files]

def upgrade(db: Database) -> list[str]:
    """Apply pending migrations in order; idempotent and safe when several processes run it at once.

    :returns: the versions applied by this call.
    """
    applied: list[str] = []
    with db.transaction() as cur:
        # A transaction-scoped advisory lock serialises concurrent upgraders; the loser then sees
        # every version already recorded and applies nothing.
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT version FROM schema_migrations")
        done = {row["version"] for row in cur.fetchall()}
        for version, sql in _migration_files():
            if version in done:
                continue
            log.info("smvm.db.migrate", extra={"version": version})
            cur.execute(sql)
            cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied
