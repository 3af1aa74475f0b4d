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


def tally(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records counted per (domain, metric): ``count`` and, per level, ``hits_50``... (what the store's SQL returns)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (str(entry["domain"]), str(entry["metric"]))
        group = groups.setdefault(key, {"domain": key[0], "metric": key[1], "count": 0,
                                        **{hits_column(level): 0 for level in LEVELS}})
        group["count"] += 1
        for level in LEVELS:
            group[hits_column(level)] += inside(float(entry["pit"]), level)
    return [groups[key] for key in sorted(groups)]


def coverage(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Interval coverage overall, by domain and by metric, each with the count it rests on."""
    return summarise(tally(entries))


def summarise(tallies: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """:func:`coverage` from per-(domain, metric) tallies."""
    groups = list(tallies)

    def combine(selected: list[dict[str, Any]]) -> dict[str, Any]:
        n = sum(int(g["count"]) for g in selected)
        out: dict[str, Any] = {"count": n}
        for level in LEVELS:
            out[f"inside_{round(level * 100)}"] = sum(int(g[hits_column(level)]) for g in selected) / n if n else None
        return out

    def grouped(key: str) -> dict[str, Any]:
        return {value: combine([g for g in groups if g[key] == value]) for value in sorted({g[key] for g in groups})}

    return {"levels": list(LEVELS), "overall": combine(groups), "by_domain": grouped("domain"),
            "by_metric": grouped("metric")}


def hits_column(level: float) -> str:
    """The tally's key for hits inside the central ``level`` interval."""
    return f"hits_{round(level * 100)}"


def one_line(summary: dict[str, Any], domain: str | None = None) -> str:
    """The ledger in one sentence, for every report: for ``domain`` when clients in it have been scored, else over
    all domains."""
    scored = (summary.get("by_domain") or {}).get(domain or "") or {}
    figures, label = (scored, f"Calibration record for {domain} ideas") if scored.get("count") else \
        (summary["overall"], "Calibration record")
    count = figures["count"]
    if not count:
        return (f"{label}: no observations scored yet; SMVM will compare its T0 forecasts with what clients observe "
                "at T0+30.")
    noun = "observation" if count == 1 else "observations"
    return (f"{label}: {count} {noun} scored so far; {figures['inside_50']:.0%} fell inside SMVM's 50 % intervals, "
            f"{figures['inside_80']:.0%} inside its 80 % and {figures['inside_95']:.0%} inside its 95 % intervals.")
