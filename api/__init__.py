"""SMVM's HTTP API: a thin Flask layer over smvm (parse, call, serialize)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from api import observability
from smvm.auth.idempotency import IdempotencyStore
from smvm.auth.tokens import TokenStore
from smvm.config import Settings
from smvm.runs.store import RunStore
from smvm.store.db import Database


def create_app(
    settings: Settings | None = None,
    *,
    store: RunStore | None = None,
    enqueue: Callable[..., object] | None = None,
) -> Flask:
    """Build the app. Tests pass ``settings`` (and may pass a store or an enqueue function) explicitly.

    :param enqueue: ``enqueue(run_id, from_stage=None)`` publishes a run's stages from ``from_stage`` (default: the
        pipeline's first) to the end of its track; defaults to the Celery chain publisher.
    """
    settings = settings or Settings.from_environ()
    settings.require_service_secrets()  # production refuses to serve without them, before binding anything
    app = Flask(__name__)
    app.config["SMVM_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    observability.init_app(app)  # first, so every later hook (auth, limits, errors) logs JSON with the correlation id
    register_extensions(app, settings, store, enqueue)
    register_security(app, settings)
    register_blueprints(app)
    register_rate_limits(app, settings)
    register_error_handlers(app)
    return app


def register_extensions(
    app: Flask, settings: Settings, store: RunStore | None, enqueue: Callable[..., object] | None
) -> None:
    if store is None:
        settings.require("database_url")
        db = Database(
            settings.database_url,  # type: ignore[arg-type]
            minconn=settings.db_pool_min,
            maxconn=settings.db_pool_max,
            connect_timeout=settings.db_connect_timeout,
        )
        store = RunStore(db, settings)
    if enqueue is None:
        enqueue = _celery_enqueue(settings)
    app.extensions["smvm.store"] = store
    app.extensions["smvm.enqueue"] = enqueue
    app.extensions["smvm.tokens"] = TokenStore(store.db)
    app.extensions["smvm.idempotency"] = IdempotencyStore(store.db)


def register_security(app: Flask, settings: Settings) -> None:
    from api import security

    security.init_app(app, settings)


def register_rate_limits(app: Flask, settings: Settings) -> None:
    from api import security

    security.apply_rate_limits(app, settings)


def _celery_enqueue(settings: Settings) -> Callable[..., object]:
    from workers.app import create_celery
    from workers.pipeline import enqueue_run

    celery_app = create_celery(settings)
    return lambda run_id, from_stage=None: enqueue_run(celery_app, run_id, *([from_stage] if from_stage else []))


def register_blueprints(app: Flask) -> None:
    from api import admin, health, integration, metrics, openapi, validation

    metrics.init_app(app)  # /metrics and per-route HTTP latency; see docs/operations.md
    app.register_blueprint(health.bp)
    app.register_blueprint(validation.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(integration.bp)  # integration health, maintenance windows
    integration.init_app(app)


def register_error_handlers(app: Flask) -> None:
    from api import errors

    errors.init_app(app)
