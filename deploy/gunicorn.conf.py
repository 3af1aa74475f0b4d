"""gunicorn settings for the SMVM API (``gunicorn --config deploy/gunicorn.conf.py api.wsgi:application``)."""

import multiprocessing
import os
import shutil
from pathlib import Path

bind = os.environ.get("SMVM_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SMVM_WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("SMVM_WEB_THREADS", "4"))
worker_class = "gthread"
# The seed's strictest endpoint budget is 60 s (PUT /complete); nothing should come close.
timeout = 60
graceful_timeout = 30
# Seconds an idle keep-alive connection stays open. A request a client sends on a pooled connection just as the
# server closes it gets no answer (the keep-alive race): behind a load balancer set this above its idle timeout;
# direct clients should keep their pool's idle timeout below it, and retry a POST that got no answer with the same
# Idempotency-Key.
keepalive = int(os.environ.get("SMVM_WEB_KEEPALIVE", "5"))
# No gunicorn access log: the app writes one JSON line per request (logger smvm.api.access: route, status,
# duration, correlation id); a second, unstructured line per request only doubled the logging cost.
accesslog = None
errorlog = "-"

# prometheus-client multiprocess mode: every worker writes its series to files here and /metrics merges them.
# It must be set before a worker imports prometheus_client, so it is set in the master, which forks the workers.
_METRICS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path("var") / "prometheus")))

# Imported here, not in child_exit: importing inside a signal handler can interrupt another import half-way.
from prometheus_client import multiprocess  # noqa: E402 - after the directory is chosen


def on_starting(server):  # noqa: ARG001 - gunicorn hook signature
    """Start each master with an empty metrics directory: files left by a previous master would double-count."""
    shutil.rmtree(_METRICS_DIR, ignore_errors=True)
    _METRICS_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):  # noqa: ARG001 - gunicorn hook signature
    """Drop a dead worker's live gauges so /metrics never reports a process that is gone."""
    multiprocess.mark_process_dead(worker.pid)
