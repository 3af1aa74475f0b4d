"""SMVM's HTTP API: a thin Flask layer over smvm (parse, call, serialize)."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery
from flask import Flask

from api import observability
from smvm.auth.idempotency import IdempotencyStore
from smvm.auth.tokens import TokenStore
from smvm.callbacks.delivery import DeliveryService
from smvm.callbacks.outbox import Outbox
from smvm.config import Settings
from smvm.runs.store import RunStore
from smvm.store.db import Database
from workers.publishing import CeleryPublisher, enqueue_run


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
    """Join the parts a request works with; a test may hand in its own store or enqueue function.

    How a run's events reach TractionBuild from here: every state change a request makes (T0, cancel, complete,
    finalize) goes through the :class:`RunStore` built below, which calls its one event hook, the callbacks
    outbox (``smvm.callbacks.outbox.Outbox.record``), inside the same transaction. The outbox writes delivery rows
    and, after commit, hands their ids to the Celery publisher (``workers.publishing.CeleryPublisher``), which
    sends a ``deliver_webhook`` message per id; a callbacks worker attempts each (``workers.context`` tells the
    rest). Stages go the same way: the view publishes the run's chain with ``enqueue`` once the run is committed.
    """
    celery_app = None
    if store is None or enqueue is None:
        from workers.app import create_celery

        celery_app = create_celery(settings)
    publisher = CeleryPublisher(celery_app) if celery_app is not None else None
    if store is None:
        settings.require("database_url")
        db = Database(
            settings.database_url,  # type: ignore[arg-type]
            minconn=settings.db_pool_min,
            maxconn=settings.db_pool_max,
            connect_timeout=settings.db_connect_timeout,
        )
        store = RunStore(db, settings, event_hooks=[Outbox(settings, publisher).record])
    if enqueue is None:
        enqueue = _celery_enqueue(celery_app)
    app.extensions["smvm.store"] = store
    app.extensions["smvm.enqueue"] = enqueue
    app.extensions["smvm.deliveries"] = DeliveryService(store.db, settings, None, publisher)
    app.extensions["smvm.tokens"] = TokenStore(store.db)
    app.extensions["smvm.idempotency"] = IdempotencyStore(store.db)


def register_security(app: Flask, settings: Settings) -> None:
    from api import security

    security.init_app(app, settings)


def register_rate_limits(app: Flask, settings: Settings) -> None:
    from api import security

    security.apply_rate_limits(app, settings)


def _celery_enqueue(celery_app: Celery) -> Callable[..., object]:
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
