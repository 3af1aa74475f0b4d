"""Daily beat jobs: the T0+30 results sync to TractionBuild (exactly once per logical date and run) and retention."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import psycopg2.extras

from smvm.artifacts import RunDirectory, remove_stale_temp_files
from smvm.config import Settings
from smvm.crypto.cipher import cipher_for
from smvm.errors import ArtifactNotFoundError
from smvm.store.db import Database
from smvm.webhooks import models, payloads
from smvm.webhooks.services import insert_delivery

log = logging.getLogger(__name__)

SYNC_JOB = "results_sync"
RETENTION_JOB = "retention"


def clock_now(settings: Settings) -> dt.datetime:
    """Now, or the test clock's now when ``settings.clock_file`` is set (simulated days for beat tests)."""
    if settings.clock_file is not None:
        text = Path(settings.clock_file).read_text().strip()
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def logical_date(now: dt.datetime, hour_utc: int) -> dt.date:
    """The day whose job is due: today once its hour has passed, else yesterday."""
    now = now.astimezone(dt.UTC)
    return now.date() if now.hour >= hour_utc else now.date() - dt.timedelta(days=1)


def _claim_dates(cur: Any, job: str, today: dt.date, catchup_days: int) -> list[dt.date]:
    """Insert this job's missing logical dates; :returns: the ones this caller created (and so must run)."""
    cur.execute("SELECT max(logical_date) AS last FROM scheduled_jobs WHERE job = %s", (job,))
    last = cur.fetchone()["last"]
    first = today - dt.timedelta(days=catchup_days - 1)
    if last is not None:
        first = max(first, last + dt.timedelta(days=1))
    dates = []
    day = first
    while day <= today:
        dates.append(day)
        day += dt.timedelta(days=1)
    claimed = []
    for day in dates:
        # The unique (job, logical_date) row is the once-per-day guarantee: a second beat blocks here until the
        # first commits, then finds the row and does nothing.
        cur.execute(
            "INSERT INTO scheduled_jobs (job, logical_date) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING logical_date",
            (job, day),
        )
        row = cur.fetchone()
        if row is not None:
            claimed.append(row["logical_date"])
    return claimed


def _read_file(run_dir: RunDirectory, relative: str) -> Any:
    try:
        data = run_dir.read_bytes(relative)
    except (ArtifactNotFoundError, OSError):
        return None
    text = data.decode("utf-8", "replace")
    if relative.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if relative.endswith(".json"):
        return json.loads(text)
    return text


def sync_files(settings: Settings, run: dict[str, Any]) -> dict[str, Any]:
    run_dir = RunDirectory(settings.runs_dir, run["project_id"], run["run_id"], cipher=cipher_for(settings))
    return {name: _read_file(run_dir, path) for name, path in payloads.SYNC_FILES.items()}


def schedule_results_sync(db: Database, settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Queue the T0+30 sync for every due run, once per logical date, catching up missed dates.

    :returns: ``{"dates": [...], "deliveries": [ids]}``; publish the ids after this returns.
    """
    now = now or clock_now(settings)
    if not settings.tractionbuild_base_url:
        log.warning("smvm.sync.unconfigured")
        return {"dates": [], "deliveries": []}
    today = logical_date(now, settings.results_sync_hour_utc)
    created: list[int] = []
    dates: list[str] = []
    with db.transaction() as cur:
        claimed = _claim_dates(cur, SYNC_JOB, today, settings.results_sync_catchup_days)
        for day in claimed:
            cutoff = dt.datetime.combine(day, dt.time(settings.results_sync_hour_utc), dt.UTC) - dt.timedelta(
                days=settings.results_sync_after_days
            )
            # SKIP LOCKED: a run another transaction is syncing is left to it; the delivery's unique dedupe key
            # is the once-per-run guarantee whatever happens.
            cur.execute(
                "SELECT run_id, validation_id, project_id, correlation_id FROM runs r"
                " WHERE status IN ('COMPLETED', 'FINALIZED') AND completed_at <= %s AND persisted_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = r.run_id AND d.kind = 'sync')"
                " ORDER BY completed_at FOR UPDATE SKIP LOCKED",
                (cutoff,),
            )
            runs = list(cur.fetchall())
            timestamp = now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            for run in runs:
                url = (f"{settings.tractionbuild_base_url.rstrip('/')}/api/v1/projects/{run['project_id']}"
                       "/validation-results")
                delivery_id = insert_delivery(
                    cur, run_id=run["run_id"], kind=models.SYNC, event_type="validation.results_sync", url=url,
                    payload=payloads.build_sync_v1(run, sync_files(settings, run), timestamp),
                    dedupe_key=f"{run['run_id']}:sync", correlation_id=run.get("correlation_id"),
                )
                if delivery_id is not None:
                    created.append(delivery_id)
            cur.execute(
                "UPDATE scheduled_jobs SET finished_at = now(), detail = %s WHERE job = %s AND logical_date = %s",
                (psycopg2.extras.Json({"runs": [run["run_id"] for run in runs], "now": timestamp}), SYNC_JOB, day),
            )
            dates.append(day.isoformat())
            log.info("smvm.sync.scheduled", extra={"logical_date": day.isoformat(), "runs": len(runs)})
    return {"dates": dates, "deliveries": created}


def purge_expired_runs(db: Database, settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Once per logical date, delete runs (and their stages, events, deliveries, files) past ``retention_days``,
    and idempotency keys past ``idempotency_retention_hours``."""
    now = now or clock_now(settings)
    today = logical_date(now, 0)
    cutoff = now - dt.timedelta(days=settings.retention_days)
    with db.transaction() as cur:
        if not _claim_dates(cur, RETENTION_JOB, today, 1):
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
