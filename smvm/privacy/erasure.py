"""Erase a data subject's runs and files, and keep the audit log of erasures."""

from __future__ import annotations

import logging
import shutil
from typing import Any

import psycopg2.extras

from smvm.artifacts import run_directory_path
from smvm.clock import iso_z
from smvm.config import Settings
from smvm.privacy.pii import hash_submitter
from smvm.store.db import Database

log = logging.getLogger(__name__)

def erase_project(db: Database, settings: Settings, project_id: str, *, requested_by: str = "smvm") -> dict[str, Any]:
    """Delete every run of ``project_id`` (rows, dependent rows and run directories) and audit the erasure.

    :returns: the audit entry written to ``erasures``.
    """
    return _erase(db, settings, "project", project_id, "project_id = %s", project_id, requested_by)


def erase_submitter(db: Database, settings: Settings, submitter: str, *, requested_by: str = "smvm") -> dict[str, Any]:
    """Delete every run submitted by ``submitter`` (a raw identifier or its ``sha256:`` hash) and audit it.

    The audit entry records the hash only, so the erasure log holds no PII.

    :returns: the audit entry written to ``erasures``.
    """
    digest = hash_submitter(submitter)
    return _erase(db, settings, "submitter", digest, "submitter_hash = %s", digest, requested_by)


def count_runs(db: Database, *, project_id: str | None = None, submitter: str | None = None) -> int:
    """How many runs an erasure of ``project_id`` or ``submitter`` would delete (what ``smvm erase`` asks about)."""
    where, value = ("project_id = %s", project_id) if project_id is not None else (
        "submitter_hash = %s", hash_submitter(submitter or ""))
    with db.transaction() as cur:
        cur.execute(f"SELECT count(*) AS n FROM runs WHERE {where}", (value,))
        return int(cur.fetchone()["n"])


def _erase(db: Database, settings: Settings, scope: str, subject: str, where: str, value: str,
           requested_by: str) -> dict[str, Any]:
    with db.transaction() as cur:
        cur.execute(f"SELECT run_id, project_id, run_dir FROM runs WHERE {where} FOR UPDATE", (value,))
        runs = list(cur.fetchall())
        run_ids = [run["run_id"] for run in runs]
        if run_ids:
            # Tables that hold a run's own data reference runs by foreign key. Today they all cascade; one added
            # later with RESTRICT would block the erasure, so each is cleared explicitly. Tables that mention a
            # run_id without a key (the API audit_log) are security records holding no request content: kept.
            for table, column in _tables_referencing_runs(cur):
                cur.execute(f'DELETE FROM {table} WHERE "{column}" = ANY(%s)', (run_ids,))
            # The calibration ledger outlives retention without a key, but it holds what the client observed.
            cur.execute("DELETE FROM calibration_records WHERE run_id = ANY(%s)", (run_ids,))
            cur.execute("DELETE FROM runs WHERE run_id = ANY(%s)", (run_ids,))
        cur.execute(
            "INSERT INTO erasures (requested_by, scope, subject, runs_deleted, run_ids) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id, at",
            (requested_by, scope, subject, len(run_ids), psycopg2.extras.Json(run_ids)),
        )
        audit = cur.fetchone()
    # Files go after the commit: a failed transaction must not leave rows pointing at deleted directories.
    # A crash here leaves orphan directories with no rows, which a re-run of the same erase removes.
    directories = 0
    for run in runs:
        if _remove_run_dir(settings, run):
            directories += 1
    entry = {
        "id": audit["id"],
        "at": iso_z(audit["at"]),
        "requested_by": requested_by,
        "scope": scope,
        "subject": subject,
        "runs_deleted": len(run_ids),
        "directories_deleted": directories,
        "run_ids": run_ids,
    }
    with db.transaction() as cur:
        cur.execute("UPDATE erasures SET directories_deleted = %s WHERE id = %s", (directories, audit["id"]))
    for project_id in sorted({run["project_id"] for run in runs}):
        _remove_empty_project_dir(settings, project_id)
    log.info("smvm.privacy.erased", extra={"scope": scope, "runs_deleted": len(run_ids), "erasure_id": audit["id"]})
    return entry


def _tables_referencing_runs(cur: Any) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT DISTINCT c.conrelid::regclass::text AS table_name, a.attname AS column_name"
        " FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
        " WHERE c.contype = 'f' AND c.confrelid = 'runs'::regclass AND c.conrelid <> 'runs'::regclass"
        " ORDER BY 1, 2"
    )
    return [(row["table_name"], row["column_name"]) for row in cur.fetchall()]


def _remove_run_dir(settings: Settings, run: dict[str, Any]) -> bool:
    # Rebuild the path from the ids rather than trusting run_dir: the ids are validated path segments.
    path = run_directory_path(settings.runs_dir, run["project_id"], run["run_id"])
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True


def _remove_empty_project_dir(settings: Settings, project_id: str) -> None:
    project_dir = run_directory_path(settings.runs_dir, project_id, "x").parent.parent
    for folder in (project_dir / "validation", project_dir):
        try:
            folder.rmdir()
        except OSError:  # not empty or already gone: leave it
            break


def erasure_log(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    """The latest audit entries, newest first."""
    with db.transaction() as cur:
        cur.execute("SELECT * FROM erasures ORDER BY id DESC LIMIT %s", (limit,))
        return list(cur.fetchall())
