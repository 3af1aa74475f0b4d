"""``/metrics`` for Prometheus: HTTP latency per route from every gunicorn worker, plus state read at scrape time.

gunicorn forks several workers; each keeps its own counters, so prometheus-client runs in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set up and cleaned by ``deploy/gunicorn.conf.py``) and a scrape of any worker
aggregates them all. Without that variable (a single process: tests, ``flask run``) the default registry is used.
"""

from __future__ import annotations

import os
import time

import redis
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from smvm.integration_health import IntegrationHealthCollector
from smvm.metrics import StateCollector

bp = Blueprint("metrics", __name__)

# Seconds; the seed's p95 budget is 30 s for the slowest endpoint, and POST /validation/runs targets < 25 ms.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_DURATION = Histogram(
    "smvm_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "smvm_http_requests", "HTTP requests by route template, method and status", ["route", "method", "status"]
)


def init_app(app: Flask) -> None:
    """Register ``/metrics`` and the per-request timing hooks."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.smvm_request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("smvm_request_started", None)
    if started is None or request.path == "/metrics":
        return response
    # The rule template, never the raw path: run ids in URLs would explode the series count.
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    labels = (route, request.method, str(response.status_code))
    HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)
    HTTP_REQUESTS.labels(*labels).inc()
    return response


def _state_collector() -> StateCollector:
    collector = current_app.extensions.get("smvm.metrics_collector")
    if collector is None:
        settings = current_app.config["SMVM_SETTINGS"]
        store = current_app.extensions.get("smvm.store")
        url = settings.redis_url or settings.broker_url
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) if url else None
        collector = StateCollector(getattr(store, "db", None), client)
        current_app.extensions["smvm.metrics_collector"] = collector
    return collector


def _integration_collector() -> IntegrationHealthCollector:
    settings = current_app.config["SMVM_SETTINGS"]
    store = current_app.extensions.get("smvm.store")
    return IntegrationHealthCollector(settings, getattr(store, "db", None), _state_collector().redis)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition: all gunicorn workers' HTTP series plus runs, stages, queues and beat freshness."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        registries = [registry]
    else:
        registries = [DEFAULT_REGISTRY, registry]
    registry.register(_state_collector())
    registry.register(_integration_collector())
    body = b"".join(generate_latest(r) for r in registries)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
