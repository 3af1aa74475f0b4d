"""Retention: runs and their files past ``SMVM_RETENTION_DAYS`` are deleted by a daily beat job."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import Any

import psycopg2.extras

from smvm.artifacts import remove_stale_temp_files
from smvm.clock import clock_now, logical_date
from smvm.config import Settings
from smvm.store.db import Database
from smvm.store.jobs import claim_dates

log = logging.getLogger(__name__)

RETENTION_JOB = "retention"


def purge_expired_runs(db: Database, settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Once per logical date, delete runs (and their stages, events, deliveries, files) past ``retention_days``,
    and idempotency keys past ``idempotency_retention_hours``."""
    now = now or clock_now(settings)
    today = logical_date(now, 0)
    cutoff = now - dt.timedelta(days=settings.retention_days)
    with db.transaction() as cur:
        if not claim_dates(cur, RETENTION_JOB, today, 1):
            return {"purged": []}
        # Active runs are never purged under a worker's feet, however old.
        cur.execute(
            "DELETE FROM runs WHERE created_at < %s AND status NOT IN ('INITIATED', 'RUNNING')"
            " RETURNING run_id, run_dir",
            (cutoff,),
        )
        purged = list(cur.fetchall())
        # Idempotency keys only need to outlive any client retry horizon (SMVM_IDEMPOTENCY_RETENTION_HOURS).
        cur.execute(
            "DELETE FROM idempotency_keys WHERE created_at < %s",
            (now - dt.timedelta(hours=settings.idempotency_retention_hours),),
        )
        keys = cur.rowcount
        cur.execute(
            "UPDATE scheduled_jobs SET finished_at = now(), detail = %s WHERE job = %s AND logical_date = %s",
            (psycopg2.extras.Json({"purged": len(purged), "idempotency_keys": keys}), RETENTION_JOB, today),
        )
    # Files go after the rows commit: a crash in between leaves orphan files, never rows pointing at nothing.
    root = Path(settings.runs_dir).resolve()
    for row in purged:
        path = Path(row["run_dir"]).resolve()
        if path.is_relative_to(root):
            shutil.rmtree(path, ignore_errors=True)
    if purged:
        log.info("smvm.retention.purged", extra={"count": len(purged)})
    stale = remove_stale_temp_files(root, older_than_seconds=settings.stage_time_limit)
    if stale:
        log.info("smvm.retention.temp_files_removed", extra={"count": stale})
    return {"purged": [row["run_id"] for row in purged], "temp_files_removed": stale}
