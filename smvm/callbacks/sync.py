"""The daily T0+30 results sync to TractionBuild: exactly once per logical date and run, through the outbox."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import psycopg2.extras

from smvm.artifacts import RunDirectory
from smvm.callbacks import payloads
from smvm.callbacks.outbox import insert_delivery
from smvm.clock import clock_now, iso_z, logical_date
from smvm.config import Settings
from smvm.crypto.cipher import cipher_for
from smvm.errors import ArtifactNotFoundError
from smvm.store.db import Database
from smvm.store.jobs import claim_dates
from smvm.webhooks import models

log = logging.getLogger(__name__)

SYNC_JOB = "results_sync"


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
    """Queue the T0+30 sync for every due run, once per logical date, catching up missed dates; and once more for
    a run whose posterior decision became ready after its sync was queued.

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
        claimed = claim_dates(cur, SYNC_JOB, today, settings.results_sync_catchup_days)
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
            # A posterior decision that became ready after its run's sync was queued (observations arrive at
            # T0+30, when the sync is due) goes to TractionBuild with the next daily sync, once.
            cur.execute(
                "SELECT run_id, validation_id, project_id, correlation_id FROM runs r"
                " WHERE posterior IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries d WHERE d.dedupe_key = r.run_id"
                " || ':sync' AND d.created_at < (r.posterior ->> 'ready_at')::timestamptz)"
                " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.dedupe_key = r.run_id || ':sync:posterior')"
                " ORDER BY run_id FOR UPDATE SKIP LOCKED",
            )
            updated = list(cur.fetchall())
            timestamp = iso_z(now)
            for run, dedupe_key in [(run, f"{run['run_id']}:sync") for run in runs] + [
                    (run, f"{run['run_id']}:sync:posterior") for run in updated]:
                url = (f"{settings.tractionbuild_base_url.rstrip('/')}/api/v1/projects/{run['project_id']}"
                       "/validation-results")
                delivery_id = insert_delivery(
                    cur, run_id=run["run_id"], kind=models.SYNC, event_type="validation.results_sync", url=url,
                    payload=payloads.build_sync_v1(run, sync_files(settings, run), timestamp),
                    dedupe_key=dedupe_key, correlation_id=run.get("correlation_id"),
                )
                if delivery_id is not None:
                    created.append(delivery_id)
            detail = {"runs": [run["run_id"] for run in runs], "posterior_updates": [run["run_id"] for run in updated],
                      "now": timestamp}
            cur.execute(
                "UPDATE scheduled_jobs SET finished_at = now(), detail = %s WHERE job = %s AND logical_date = %s",
                (psycopg2.extras.Json(detail), SYNC_JOB, day),
            )
            dates.append(day.isoformat())
            log.info("smvm.sync.scheduled", extra={"logical_date": day.isoformat(), "runs": len(runs)})
    return {"dates": dates, "deliveries": created}
