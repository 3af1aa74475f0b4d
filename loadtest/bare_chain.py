"""Baseline 2: a bare Celery chain of seven no-op tasks on the same Redis (own db index and queue)."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("loadtest", broker=os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True, task_acks_late=True,
                worker_prefetch_multiplier=1, task_default_queue="loadtest.chain", worker_hijack_root_logger=False)


@app.task(name="loadtest.noop")
def noop(token: str, step: int) -> None:
    """Do nothing; the last step records when the chain finished."""
    if step == 6:
        import time

        import redis

        redis.Redis.from_url(app.conf.broker_url).hset("loadtest.chain.done", token, repr(time.time()))
