"""Build the Celery app from SMVM settings: JSON only, late acks, one queue per workload."""

from __future__ import annotations

import importlib

from celery import Celery
from kombu import Exchange, Queue

from smvm.config import Settings
from smvm.pipeline.tracks import ALL_STAGES
from smvm.queues import CALLBACKS_QUEUE, MAINTENANCE_QUEUE, PIPELINE_QUEUE, QUEUES, priority_list_suffix
from workers import broker

#: kombu's Redis transport keeps a queue's messages of priority 0 (the default), 3, 6 and 9 in separate lists and
#: serves them in that order. Routine progress updates are published at this priority, behind decisions and alerts.
DEFERRED_PRIORITY = 6
#: The Redis list a queue's deferred messages wait in (kombu's separator; metrics and KEDA count it too).
DEFERRED_LIST_SUFFIX = priority_list_suffix(DEFERRED_PRIORITY)

#: The modules that define tasks; importing one registers its tasks on the app and does nothing else.
TASK_MODULES = ("workers.tasks", "workers.maintenance", "workers.callbacks")


def celery_config(settings: Settings) -> dict[str, object]:
    """The app's Celery settings; each choice is explained in shared/reference section 1.1. What every task
    guarantees (late acks, redelivery when a worker dies, no results) is ``workers.base.SmvmTask``'s."""
    if settings.stage_time_limit >= settings.broker_visibility_timeout:
        # Otherwise Redis hands a still-running stage to a second worker.
        raise ValueError("SMVM_BROKER_VISIBILITY_TIMEOUT must exceed SMVM_STAGE_TIME_LIMIT")
    routes = {f"smvm.stage.{stage.name}": {"queue": stage.queue} for stage in ALL_STAGES}
    routes["smvm.callbacks.*"] = {"queue": CALLBACKS_QUEUE}
    routes["smvm.maintenance.*"] = {"queue": MAINTENANCE_QUEUE}
    transport = {"visibility_timeout": settings.broker_visibility_timeout}
    config: dict[str, object] = {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "broker_connection_max_retries": None,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": settings.stage_soft_time_limit,
        "task_time_limit": settings.stage_time_limit,
        "task_default_queue": PIPELINE_QUEUE,
        "task_default_exchange": PIPELINE_QUEUE,
        "task_default_routing_key": PIPELINE_QUEUE,
        # Each queue with its own direct exchange and routing key: a bare Queue(name) is bound to the default
        # exchange and key (smvm.pipeline's), so anything published there by exchange would reach every queue.
        "task_queues": [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        "task_routes": routes,
        "task_create_missing_queues": False,
        "task_publish_retry_policy": {"max_retries": 3, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_soft_shutdown_timeout": 30.0,
        "worker_enable_soft_shutdown_on_idle": True,
        "enable_utc": True,
        "timezone": "UTC",
    }
    if (settings.broker_url or "").startswith("redis://"):
        # Only plain redis:// URLs: naming a transport replaces the URL scheme, and rediss:// (TLS) and sentinel://
        # URLs need kombu's own handling of their schemes.
        config["broker_transport"] = broker.TRANSPORT
    return config


def create_celery(settings: Settings) -> Celery:
    """The one Celery app; ``settings`` is reachable from tasks as ``app.smvm_settings``."""
    from workers import probes, signals
    from workers.beat import beat_schedule

    # Every task, ours and shared ones, is a SmvmTask: its defaults, its process context, its correlation id.
    app = Celery("smvm", set_as_current=True, task_cls="workers.base:SmvmTask")
    # Celery's "current app" is per thread; gunicorn serves requests on other threads, where shared tasks would
    # otherwise bind to Celery's broker-less default app. The default app is process-wide.
    app.set_default()
    app.config_from_object(celery_config(settings))
    app.conf.beat_schedule = beat_schedule(settings)
    app.smvm_settings = settings  # type: ignore[attr-defined]
    app.autodiscover_tasks(lambda: [], force=True)
    for module in TASK_MODULES:
        importlib.import_module(module)
    probes.connect()  # liveness and readiness files for workers and beat, beat-job outcomes for /metrics
    signals.connect()  # JSON logs, each task's log context, masked argument reprs, no start without the secrets
    return app
