"""TractionBuild integration health: API connectivity, webhook delivery and results sync, each with its evidence."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import requests

from smvm.clock import iso_z
from smvm.config import Settings
from smvm.store.db import Database
from smvm.webhooks.breaker import CircuitBreaker

log = logging.getLogger(__name__)

#: The seed's alert thresholds: webhook failure rate > 5% in 1 h, sync delay > 36 h.
WEBHOOK_WINDOW_SECONDS = 3600
WEBHOOK_MIN_SUCCESS_RATE = 0.95
SYNC_MAX_DELAY_HOURS = 36.0
_BREAKER_PATTERN = "smvm:breaker:*:open_until"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_api(settings: Settings) -> dict[str, Any]:
    """``GET {tractionbuild_base_url}/health`` with a short timeout; redirects are not followed."""
    checked_at = iso_z(_now())
    if not settings.tractionbuild_base_url:
        return {"healthy": False, "checked_at": checked_at, "evidence": {"error": "SMVM_TRACTIONBUILD_BASE_URL is not set"}}
    url = f"{settings.tractionbuild_base_url.rstrip('/')}/health"
    started = time.perf_counter()
    try:
        response = requests.get(url, timeout=settings.integration_health_timeout_seconds, allow_redirects=False)
    except requests.RequestException as exc:
        evidence: dict[str, Any] = {"url": url, "error": type(exc).__name__}
        return {"healthy": False, "checked_at": checked_at, "evidence": evidence}
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return {
        "healthy": response.status_code == 200,
        "checked_at": checked_at,
        "evidence": {"url": url, "status_code": response.status_code, "latency_ms": latency_ms},
    }


def open_breakers(redis_client: Any) -> list[str]:
    """Destinations whose shared circuit breaker is open right now."""
    hosts = []
    for key in redis_client.scan_iter(match=_BREAKER_PATTERN, count=500):
        host = (key.decode() if isinstance(key, bytes) else key)[len("smvm:breaker:"):-len(":open_until")]
        if CircuitBreaker(redis_client, threshold=1, cooldown=1).state(host) == "open":
            hosts.append(host)
    return sorted(hosts)


def check_webhooks(db: Database, redis_client: Any | None) -> dict[str, Any]:
    """Success rate of attempts in the last hour, dead letters, pending backlog and open breakers."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT count(*) AS attempts, count(*) FILTER (WHERE status_code BETWEEN 200 AND 299) AS succeeded"
            " FROM delivery_attempts WHERE at > now() - make_interval(secs => %s)",
            (WEBHOOK_WINDOW_SECONDS,),
        )
        attempts = cur.fetchone()
        cur.execute(
            "SELECT count(*) FILTER (WHERE status = 'DEAD') AS dead,"
            " count(*) FILTER (WHERE status IN ('PENDING', 'SENDING')) AS pending,"
            " max(last_attempt_at) FILTER (WHERE status = 'DELIVERED') AS last_delivered FROM deliveries"
        )
        totals = cur.fetchone()
    rate = attempts["succeeded"] / attempts["attempts"] if attempts["attempts"] else None
    evidence: dict[str, Any] = {
        "window_seconds": WEBHOOK_WINDOW_SECONDS,
        "attempts": attempts["attempts"],
        "succeeded": attempts["succeeded"],
        "success_rate": None if rate is None else round(rate, 4),
        "dead_letters": totals["dead"],
        "pending": totals["pending"],
        "last_delivered_at": iso_z(totals["last_delivered"]),
    }
    breakers: list[str] | None = None
    if redis_client is not None:
        try:
            breakers = open_breakers(redis_client)
        except Exception as exc:  # noqa: BLE001 - Redis down: report it as evidence, not as a failed request
            evidence["breakers_error"] = type(exc).__name__
    evidence["open_breakers"] = breakers
    healthy = (rate is None or rate >= WEBHOOK_MIN_SUCCESS_RATE) and not breakers
    return {"healthy": healthy, "checked_at": iso_z(_now()), "evidence": evidence}


def check_sync(db: Database, settings: Settings) -> dict[str, Any]:
    """Last persisted run and the runs due (completed ``results_sync_after_days`` ago) but not yet persisted."""
    cutoff = _now() - dt.timedelta(days=settings.results_sync_after_days)
    with db.transaction() as cur:
        cur.execute(
            "SELECT max(persisted_at) AS last_success,"
            " count(*) FILTER (WHERE status IN ('COMPLETED', 'FINALIZED') AND completed_at <= %s"
            " AND persisted_at IS NULL) AS backlog,"
            " min(completed_at) FILTER (WHERE status IN ('COMPLETED', 'FINALIZED') AND completed_at <= %s"
            " AND persisted_at IS NULL) AS oldest_due FROM runs",
            (cutoff, cutoff),
        )
        row = cur.fetchone()
        cur.execute("SELECT count(*) AS dead FROM deliveries WHERE kind = 'sync' AND status = 'DEAD'")
        dead = cur.fetchone()["dead"]
    delay_hours = None
    if row["oldest_due"] is not None:
        delay_hours = round((_now() - row["oldest_due"]).total_seconds() / 3600 - settings.results_sync_after_days * 24, 2)
    healthy = dead == 0 and (delay_hours is None or delay_hours <= SYNC_MAX_DELAY_HOURS)
    return {
        "healthy": healthy,
        "checked_at": iso_z(_now()),
        "evidence": {
            "last_success_at": iso_z(row["last_success"]),
            "backlog": row["backlog"],
            "oldest_due_delay_hours": delay_hours,
            "dead_syncs": dead,
        },
    }


def integration_health(settings: Settings, db: Database, redis_client: Any | None) -> dict[str, Any]:
    """The seed's ``check_integration_health`` document, with evidence per check; a failing check never raises."""
    checks: dict[str, dict[str, Any]] = {"api_connectivity": check_api(settings)}
    for name, check in (("webhook_delivery", lambda: check_webhooks(db, redis_client)),
                        ("data_sync", lambda: check_sync(db, settings))):
        try:
            checks[name] = check()
        except Exception as exc:  # PostgreSQL down is itself the finding
            log.warning("smvm.integration_health.check_failed", extra={"check": name}, exc_info=True)
            checks[name] = {"healthy": False, "checked_at": iso_z(_now()), "evidence": {"error": type(exc).__name__}}
    return {
        "healthy": all(check["healthy"] for check in checks.values()),
        "timestamp": iso_z(_now()),
        **{name: check["healthy"] for name, check in checks.items()},
        "checks": checks,
    }


class IntegrationHealthCollector:
    """Prometheus view of :func:`integration_health`, computed at scrape time like smvm.metrics.StateCollector."""

    def __init__(self, settings: Settings, db: Database | None, redis_client: Any | None) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis_client

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        if self.db is None:
            return
        report = integration_health(self.settings, self.db, self.redis)
        healthy = GaugeMetricFamily(
            "smvm_integration_healthy", "1 when the TractionBuild integration check passes", labels=["check"]
        )
        for name, check in report["checks"].items():
            healthy.add_metric([name], 1.0 if check["healthy"] else 0.0)
        yield healthy
        webhook = report["checks"]["webhook_delivery"]["evidence"]
        if webhook.get("success_rate") is not None:
            yield GaugeMetricFamily("smvm_integration_webhook_success_ratio",
                                    "Share of callback attempts answered 2xx in the last hour", value=webhook["success_rate"])
        if webhook.get("open_breakers") is not None:
            yield GaugeMetricFamily("smvm_integration_open_breakers", "Destinations whose circuit breaker is open",
                                    value=len(webhook["open_breakers"]))
        sync = report["checks"]["data_sync"]["evidence"]
        if "backlog" in sync:
            yield GaugeMetricFamily("smvm_integration_sync_backlog", "Runs due for the results sync and not yet persisted",
                                    value=sync["backlog"])
        latency = report["checks"]["api_connectivity"]["evidence"].get("latency_ms")
        if latency is not None:
            yield GaugeMetricFamily("smvm_integration_api_latency_seconds", "Latency of TractionBuild's /health",
                                    value=latency / 1000)
