"""The ledger's rows in PostgreSQL (table ``calibration_records``): written when a posterior update is scored, read
by the reports, ``smvm calibration`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

import psycopg2.extras

from smvm.calibration import ledger


def insert(cur: Any, run: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """One row per observed metric of ``run`` (:func:`smvm.calibration.ledger.records`); a repeat is a no-op."""
    if not rows:
        return
    psycopg2.extras.execute_values(
        cur,
        "INSERT INTO calibration_records (run_id, project_id, domain, metric, window_days, observed, pit)"
        " VALUES %s ON CONFLICT (run_id, metric) DO NOTHING",
        [(run["run_id"], run["project_id"], row["domain"], row["metric"], row["window_days"], row["observed"],
          row["pit"]) for row in rows],
    )


def coverage(cur: Any) -> dict[str, Any]:
    """The whole ledger's coverage (:func:`smvm.calibration.ledger.summarise`), counted in SQL."""
    hits = ", ".join(f"sum((abs(pit - 0.5) <= {level / 2!r})::int) AS {ledger.hits_column(level)}"
                     for level in ledger.LEVELS)
    cur.execute(f"SELECT domain, metric, count(*) AS count, {hits} FROM calibration_records"
                " GROUP BY domain, metric ORDER BY domain, metric")
    return ledger.summarise(cur.fetchall())
