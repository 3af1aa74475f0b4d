"""Once-per-day jobs: the ``scheduled_jobs`` row for a (job, logical date) is the claim that runs it."""

from __future__ import annotations

import datetime as dt
from typing import Any


def claim_dates(cur: Any, job: str, today: dt.date, catchup_days: int) -> list[dt.date]:
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
