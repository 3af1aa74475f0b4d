"""The calibration ledger's arithmetic: where each observation fell in its T0 forecast (its predictive percentile,
the PIT of Dawid 1984) and how often observations land inside the central 50 %, 80 % and 95 % intervals. Pure
functions; the store keeps the records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Central predictive intervals the ledger checks.
LEVELS = (0.50, 0.80, 0.95)


def inside(pit: float, level: float) -> bool:
    """Whether a predictive percentile lies in the central ``level`` interval."""
    return abs(pit - 0.5) <= level / 2.0


def records(run_id: str, domain: str, posterior: dict[str, Any]) -> list[dict[str, Any]]:
    """One ledger record per observed metric of a posterior update."""
    return [{"run_id": run_id, "domain": domain, "metric": metric, "window_days": posterior["window_days"],
             "observed": entry["observed"], "pit": entry["pit"]}
            for metric, entry in sorted(posterior["predictive"].items())]


def coverage(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Interval coverage overall, by domain and by metric, each with the count it rests on."""
    rows = list(entries)

    def summarise(group: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(group)
        out: dict[str, Any] = {"count": n}
        for level in LEVELS:
            hits = sum(1 for r in group if inside(float(r["pit"]), level))
            out[f"inside_{round(level * 100)}"] = hits / n if n else None
        return out

    def grouped(key: str) -> dict[str, Any]:
        keys = sorted({str(r[key]) for r in rows})
        return {k: summarise([r for r in rows if str(r[key]) == k]) for k in keys}

    return {"levels": list(LEVELS), "overall": summarise(rows), "by_domain": grouped("domain"),
            "by_metric": grouped("metric")}


def one_line(summary: dict[str, Any]) -> str:
    """The ledger in one sentence, for every report."""
    overall = summary["overall"]
    if not overall["count"]:
        return ("Calibration record: no observations scored yet; SMVM will compare its T0 forecasts with what clients "
                "observe at T0+30.")
    return (f"Calibration record: {overall['count']} observations scored so far; "
            f"{overall['inside_50']:.0%} fell inside SMVM's 50 % intervals, {overall['inside_80']:.0%} inside its 80 % "
            f"and {overall['inside_95']:.0%} inside its 95 % intervals.")
