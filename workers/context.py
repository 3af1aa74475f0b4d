"""Per-process access to the run store from tasks, opened lazily after the worker forks."""

from __future__ import annotations

import functools

from celery import Celery

from smvm.runs.store import RunStore
from smvm.store.db import Database


@functools.cache
def _store_for(app_id: int, app: Celery) -> RunStore:
    settings = app.smvm_settings  # type: ignore[attr-defined]
    settings.require("database_url")
    db = Database(settings.database_url, minconn=1, maxconn=4, connect_timeout=settings.db_connect_timeout)
    return RunStore(db, settings)


def get_store(app: Celery) -> RunStore:
    return _store_for(id(app), app)
