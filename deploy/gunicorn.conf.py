"""gunicorn settings for the SMVM API (``gunicorn --config deploy/gunicorn.conf.py api.wsgi:application``)."""

import multiprocessing
import os

bind = os.environ.get("SMVM_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SMVM_WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("SMVM_WEB_THREADS", "4"))
worker_class = "gthread"
# The seed's strictest endpoint budget is 60 s (PUT /complete); nothing should come close.
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
