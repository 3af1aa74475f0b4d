"""Prometheus series read from PostgreSQL and Redis at scrape time, so every API process reports the same truth."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from smvm.calibration import records
from smvm.callbacks.delivery import HOLD_REASON_SQL
from smvm.queues import CALLBACKS_QUEUE, PRIORITY_LIST_SUFFIXES, QUEUES
from smvm.store.db import Database
from smvm.webhooks.models import HOLD_REASONS

log = logging.getLogger(__name__)

#: Hash where kombu keeps delivered-but-unacknowledged messages (acks_late: these are running or reserved).
UNACKED_KEY = "unacked"

#: Written by workers/probes.py on task_postrun; read here. Hash fields are documented there.
SWEEPER_KEY = "smvm:metrics:sweeper"
TASK_SUCCESS_KEY = "smvm:metrics:task_last_success"
#: Circuit breakers shared by callback workers (smvm.webhooks.breaker): ``smvm:breaker:{host}:failures`` counts
#: consecutive failures and ``smvm:breaker:{host}:open_until`` (epoch seconds) exists while open or half-open.
BREAKER_PREFIX = "smvm:breaker:"
BREAKER_STATES = ("closed", "open", "half_open")

#: Runs that ended, by outcome; monotonic while runs are retained, so Prometheus can rate() them.
_OUTCOMES = {
    "succeeded": "completed_at IS NOT NULL",
    "failed": "status = 'FAILED'",
    "incomplete": "status = 'INCOMPLETE'",
    "cancelled": "status = 'CANCELLED'",
}
RUN_STATUSES = ("INITIATED", "RUNNING", "COMPLETED", "FINALIZED", "FAILED", "INCOMPLETE", "CANCELLED")
#: Trailing window for the ratio and percentile gauges (dashboards); alerts use the counters.
WINDOW_SECONDS = 3600
#: A scrape must never hang: PostgreSQL queries stop after this long.
STATEMENT_TIMEOUT_MS = 2000


def queue_depths(client: Any) -> dict[str, int]:
    """Messages waiting in each Celery queue on Redis: the queue's list plus its priority lists (one round trip)."""
    pipe = client.pipeline(transaction=False)
    _queue_lengths(pipe)
    return _queue_depths(pipe.execute())


def _queue_lengths(pipe: Any) -> None:
    for queue in QUEUES:
        for suffix in PRIORITY_LIST_SUFFIXES:
            pipe.llen(queue + suffix)


def _queue_depths(replies: list[Any]) -> dict[str, int]:
    """The depths from the replies of ``_queue_lengths`` (the first ones of the pipeline)."""
    width = len(PRIORITY_LIST_SUFFIXES)
    return {queue: int(sum(replies[index * width:(index + 1) * width])) for index, queue in enumerate(QUEUES)}


class StateCollector(Collector):
    """Runs, stages, dead letters, queues, breakers, sweeper and sync freshness, collected on each scrape.

    Every value comes from PostgreSQL or Redis, never from process memory, so any API replica answers the same and
    a restart loses nothing. A dependency that fails reports ``smvm_metrics_source_up{dependency}=0`` and the rest
    of the scrape still succeeds.
    """

    def __init__(self, db: Database | None, redis_client: Any | None) -> None:
        self.db = db
        self.redis = redis_client

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "smvm_metrics_source_up", "1 when the dependency answered this scrape, 0 when it did not", labels=["dependency"]
        )
        families: list[Metric] = []
        if self.db is not None:
            try:
                families.extend(self._from_postgresql())
                up.add_metric(["postgresql"], 1.0)
            except Exception:  # noqa: BLE001 - a scrape reports the failure instead of raising
                log.warning("smvm.metrics.postgresql_failed", exc_info=True)
                up.add_metric(["postgresql"], 0.0)
        if self.redis is not None:
            try:
                families.extend(self._from_redis())
                up.add_metric(["redis"], 1.0)
            except Exception:  # noqa: BLE001 - a scrape reports the failure instead of raising
                log.warning("smvm.metrics.redis_failed", exc_info=True)
                up.add_metric(["redis"], 0.0)
        yield up
        yield from families

    # -- PostgreSQL -----------------------------------------------------------------------------------

    def _from_postgresql(self) -> list[Metric]:
        assert self.db is not None
        with self.db.transaction() as cur:
            cur.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            cur.execute("SELECT status, count(*) AS n FROM runs GROUP BY status")
            by_status = {row["status"]: row["n"] for row in cur.fetchall()}
            cur.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {cond}) AS {name}" for name, cond in _OUTCOMES.items())
                        + " FROM runs")
            outcomes = cur.fetchone()
            cur.execute(
                "SELECT count(*) FILTER (WHERE completed_at IS NOT NULL) AS ok,"
                " count(*) FILTER (WHERE status IN ('FAILED', 'INCOMPLETE')) AS bad FROM runs"
                " WHERE coalesce(completed_at, updated_at) > now() - make_interval(secs => %s)"
                " AND (completed_at IS NOT NULL OR status IN ('FAILED', 'INCOMPLETE'))",
                (WINDOW_SECONDS,),
            )
            window = cur.fetchone()
            cur.execute(
                "SELECT name, count(*) AS n, coalesce(sum(duration_ms), 0) AS total_ms FROM stages"
                " WHERE status = 'SUCCEEDED' AND duration_ms IS NOT NULL GROUP BY name"
            )
            stage_totals = cur.fetchall()
            cur.execute(
                "SELECT name, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,"
                " percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,"
                " count(*) AS n, sum(duration_ms) AS total_ms FROM stages"
                " WHERE status = 'SUCCEEDED' AND duration_ms IS NOT NULL"
                " AND finished_at > now() - make_interval(secs => %s) GROUP BY name",
                (WINDOW_SECONDS,),
            )
            stage_window = cur.fetchall()
            # Bounded to a day: the "queue growing, nothing started" alert only needs recent starts.
            cur.execute(
                "SELECT queue, extract(epoch FROM max(started_at)) AS at FROM stages"
                " WHERE started_at > now() - interval '1 day' GROUP BY queue"
            )
            started = {row["queue"]: float(row["at"]) for row in cur.fetchall()}
            cur.execute("SELECT extract(epoch FROM max(persisted_at)) AS at FROM runs")
            last_persisted = cur.fetchone()["at"]
            cur.execute("SELECT to_regclass('public.deliveries') IS NOT NULL AS present")
            dead: int | None = None
            held: list[dict[str, Any]] = []
            if cur.fetchone()["present"]:
                # The deliveries table arrives with the callbacks migration; until then the series is absent.
                cur.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'DEAD'")
                dead = cur.fetchone()["n"]
                cur.execute(
                    f"SELECT {HOLD_REASON_SQL} AS reason, count(*) AS n,"
                    " coalesce(extract(epoch FROM now() - min(held_since)), 0) AS age FROM deliveries"
                    " WHERE status IN ('PENDING', 'SENDING', 'DISABLED') GROUP BY 1"
                )
                held = list(cur.fetchall())
                cur.execute("SELECT extract(epoch FROM max(last_attempt_at)) AS at FROM deliveries"
                            " WHERE last_attempt_at > now() - interval '1 day'")
                at = cur.fetchone()["at"]
                if at is not None:
                    started[CALLBACKS_QUEUE] = float(at)
            cur.execute("SELECT to_regclass('public.calibration_records') IS NOT NULL AS present")
            calibration = records.coverage(cur) if cur.fetchone()["present"] else None

        runs = GaugeMetricFamily("smvm_runs", "Runs by current status", labels=["status"])
        for status in RUN_STATUSES:
            runs.add_metric([status], float(by_status.get(status, 0)))
        finished = CounterMetricFamily(
            "smvm_runs_finished", "Runs that reached an outcome (counted from the runs table; use increase())",
            labels=["outcome"],
        )
        for outcome in _OUTCOMES:
            finished.add_metric([outcome], float(outcomes[outcome]))
        ratio = GaugeMetricFamily(
            "smvm_validation_success_ratio",
            f"Share of runs finished in the last {WINDOW_SECONDS}s that completed (1 when none finished)",
        )
        total = window["ok"] + window["bad"]
        ratio.add_metric([], window["ok"] / total if total else 1.0)
        durations = SummaryMetricFamily(
            "smvm_stage_duration_seconds", "Duration of succeeded stage attempts", labels=["stage"]
        )
        for row in stage_totals:
            durations.add_metric([row["name"]], count_value=row["n"], sum_value=float(row["total_ms"]) / 1000.0)
        # A summary, not a gauge: only a summary may carry the quantile label (promtool check metrics), and its
        # _count and _sum over the same window come with it.
        recent = SummaryMetricFamily(
            "smvm_stage_duration_recent_seconds",
            f"Duration of stage attempts that succeeded in the last {WINDOW_SECONDS}s (p50, p95)",
            labels=["stage"],
        )
        for row in stage_window:
            recent.add_metric([row["name"]], count_value=row["n"], sum_value=float(row["total_ms"]) / 1000.0)
            # SummaryMetricFamily.add_metric takes count and sum only; prometheus-client has no public call for a
            # custom collector's quantiles, so they are added as samples of the same family.
            for quantile, column in (("0.5", "p50"), ("0.95", "p95")):
                recent.add_sample("smvm_stage_duration_recent_seconds", {"stage": row["name"], "quantile": quantile},
                                  float(row[column]) / 1000.0)
        last_started = GaugeMetricFamily(
            "smvm_queue_last_started_timestamp_seconds",
            "When a worker last started work from each queue (stages; callback delivery attempts), within a day",
            labels=["queue"],
        )
        for queue, at in sorted(started.items()):
            last_started.add_metric([queue], at)
        families: list[Metric] = [runs, finished, ratio, durations, recent, last_started]
        if last_persisted is not None:
            persisted = GaugeMetricFamily(
                "smvm_results_last_persisted_timestamp_seconds", "When the daily sync last persisted a run to TractionBuild"
            )
            persisted.add_metric([], float(last_persisted))
            families.append(persisted)
        if dead is not None:
            dlq = GaugeMetricFamily("smvm_webhook_dead_letters", "Callback deliveries in the dead-letter store (status DEAD)")
            dlq.add_metric([], float(dead))
            families.append(dlq)
            counts = {row["reason"]: row["n"] for row in held}
            waiting = GaugeMetricFamily(
                "smvm_webhook_held_deliveries",
                "Callback deliveries neither delivered nor dead, by why they wait (queued, retrying, throttled, "
                "breaker_open, disabled)", labels=["reason"],
            )
            for reason in HOLD_REASONS:
                waiting.add_metric([reason], float(counts.get(reason, 0)))
            oldest = GaugeMetricFamily(
                "smvm_webhook_held_oldest_age_seconds",
                "Age of the oldest held delivery (0 when none); past SMVM_WEBHOOK_MAX_HOLD_HOURS it becomes a dead letter",
            )
            oldest.add_metric([], max((float(row["age"]) for row in held), default=0.0))
            families.extend([waiting, oldest])
        if calibration is not None:
            families.extend(_calibration_families(calibration))
        return families

    # -- Redis ----------------------------------------------------------------------------------------

    def _from_redis(self) -> list[Metric]:
        assert self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        _queue_lengths(pipe)
        pipe.hlen(UNACKED_KEY)
        pipe.hgetall(SWEEPER_KEY)
        pipe.hgetall(TASK_SUCCESS_KEY)
        replies = pipe.execute()
        depths = _queue_depths(replies)
        unacked_count, sweeper_raw, successes = replies[-3], _decode(replies[-2]), _decode(replies[-1])
        depth = GaugeMetricFamily("smvm_queue_depth", "Messages waiting in each Celery queue (Redis LLEN)", labels=["queue"])
        for queue in QUEUES:
            depth.add_metric([queue], float(depths[queue]))
        unacked = GaugeMetricFamily(
            "smvm_queue_unacked", "Messages delivered to a worker and not yet acknowledged (all queues)"
        )
        unacked.add_metric([], float(unacked_count))

        sweeper = CounterMetricFamily(
            "smvm_sweeper_actions", "Stages re-enqueued and runs expired by the sweeper", labels=["action"]
        )
        for action in ("requeued", "expired"):
            sweeper.add_metric([action], float(sweeper_raw.get(action, 0)))
        families: list[Metric] = [depth, unacked, sweeper]
        if "last_run" in sweeper_raw:
            tick = GaugeMetricFamily("smvm_sweeper_last_run_timestamp_seconds", "When the sweeper last finished")
            tick.add_metric([], float(sweeper_raw["last_run"]))
            families.append(tick)
        if successes:
            last = GaugeMetricFamily(
                "smvm_task_last_success_timestamp_seconds", "When each beat-driven task last succeeded", labels=["task"]
            )
            for task, at in sorted(successes.items()):
                last.add_metric([task], float(at))
            families.append(last)
            syncs = [float(at) for task, at in successes.items() if "sync" in task]
            if syncs:
                sync = GaugeMetricFamily(
                    "smvm_sync_last_success_timestamp_seconds", "When the daily results sync last finished successfully"
                )
                sync.add_metric([], max(syncs))
                families.append(sync)
        families.append(self._breakers())
        return families

    def _breakers(self, now: float | None = None) -> Metric:
        """Count hosts per breaker state, read the way ``smvm.webhooks.breaker`` writes them."""
        assert self.redis is not None
        now = time.time() if now is None else now
        hosts: dict[str, str] = {}
        for key in self.redis.scan_iter(match=BREAKER_PREFIX + "*", count=500):
            host, _, part = _text(key)[len(BREAKER_PREFIX):].rpartition(":")
            if part == "failures":
                hosts.setdefault(host, "closed")
            elif part == "open_until":
                open_until = _text(self.redis.get(key))
                if open_until:
                    hosts[host] = "open" if now < float(open_until) else "half_open"
            if len(hosts) >= 10_000:  # a bounded scrape, even if something floods the keyspace
                break
        family = GaugeMetricFamily(
            "smvm_webhook_breakers", "Destination circuit breakers by state (no host label: hosts are client input)",
            labels=["state"],
        )
        for state in BREAKER_STATES:
            family.add_metric([state], float(sum(1 for value in hosts.values() if value == state)))
        return family


def _calibration_families(summary: dict[str, Any]) -> list[Metric]:
    """The calibration ledger: how often T0+30 observations fell inside SMVM's central predictive intervals."""
    overall = GaugeMetricFamily(
        "smvm_calibration_coverage_ratio",
        "Share of scored T0+30 observations inside SMVM's central predictive interval (nominal: the interval)",
        labels=["interval"],
    )
    by_domain = GaugeMetricFamily(
        "smvm_calibration_domain_coverage_ratio", "As smvm_calibration_coverage_ratio, per domain",
        labels=["domain", "interval"],
    )
    count = GaugeMetricFamily("smvm_calibration_observations", "T0+30 observations scored by the calibration ledger")
    domain_count = GaugeMetricFamily(
        "smvm_calibration_domain_observations", "T0+30 observations scored, per domain", labels=["domain"]
    )
    count.add_metric([], float(summary["overall"]["count"]))
    for level in summary["levels"]:
        key = f"inside_{round(level * 100)}"
        if summary["overall"][key] is not None:
            overall.add_metric([f"{level:g}"], summary["overall"][key])
        for domain, figures in summary["by_domain"].items():
            by_domain.add_metric([domain, f"{level:g}"], figures[key])
    for domain, figures in summary["by_domain"].items():
        domain_count.add_metric([domain], float(figures["count"]))
    return [overall, by_domain, count, domain_count]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else ("" if value is None else str(value))


def _decode(mapping: dict[Any, Any]) -> dict[str, str]:
    return {_text(key): _text(value) for key, value in mapping.items()}


def record_task_success(redis_client: Any, task_name: str, *, now: float | None = None) -> None:
    """Remember when ``task_name`` last succeeded (beat jobs only: the label set must stay small)."""
    redis_client.hset(TASK_SUCCESS_KEY, task_name, f"{time.time() if now is None else now:.3f}")


def record_sweep(redis_client: Any, result: dict[str, int], *, now: float | None = None) -> None:
    """Add one sweep's counts to the sweeper totals and stamp its finishing time."""
    pipe = redis_client.pipeline(transaction=False)
    for action in ("requeued", "expired"):
        if result.get(action):
            pipe.hincrby(SWEEPER_KEY, action, int(result[action]))
    pipe.hset(SWEEPER_KEY, "last_run", f"{time.time() if now is None else now:.3f}")
    pipe.execute()
