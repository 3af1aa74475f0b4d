from __future__ import annotations

import pytest

from smvm.config import Settings
from workers.app import celery_config
from workers.beat import beat_schedule

pytestmark = pytest.mark.unit


def test_schedule_contents() -> None:
    schedule = beat_schedule(Settings(sweeper_interval_seconds=30.0))
    assert schedule["sweep-stuck-stages"]["task"] == "smvm.maintenance.sweep_stuck_stages"
    assert schedule["sweep-stuck-stages"]["schedule"] == 30.0


def test_callback_and_daily_entries() -> None:
    settings = Settings(delivery_poll_seconds=5.0, results_sync_tick_seconds=600.0)
    schedule = beat_schedule(settings)
    assert schedule["dispatch-due-deliveries"]["task"] == "smvm.maintenance.dispatch_due_deliveries"
    assert schedule["dispatch-due-deliveries"]["schedule"] == 5.0
    assert schedule["sync-results"]["task"] == "smvm.maintenance.sync_results"
    assert schedule["sync-results"]["schedule"] == 600.0
    assert schedule["purge-expired-runs"]["task"] == "smvm.maintenance.purge_expired_runs"
    assert all(entry["options"]["queue"] == "smvm.maintenance" for entry in schedule.values())


def test_callback_tasks_route_to_their_queues(celery_app_factory) -> None:
    app = celery_app_factory(Settings(broker_url="memory://"))
    assert app.amqp.router.route({}, "smvm.callbacks.deliver_webhook")["queue"].name == "smvm.callbacks"
    assert app.amqp.router.route({}, "smvm.maintenance.sync_results")["queue"].name == "smvm.maintenance"


def test_every_scheduled_task_exists(celery_app_factory) -> None:
    app = celery_app_factory(Settings(broker_url="memory://"))
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks


def test_celery_reliability_settings() -> None:
    config = celery_config(Settings(broker_url="memory://"))
    assert config["worker_prefetch_multiplier"] == 1
    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["broker_transport_options"]["visibility_timeout"] > config["task_time_limit"] > config["task_soft_time_limit"]


def test_visibility_timeout_must_exceed_time_limit() -> None:
    with pytest.raises(ValueError, match="VISIBILITY_TIMEOUT"):
        celery_config(Settings(stage_time_limit=1000, broker_visibility_timeout=900))


def test_stage_tasks_are_named_and_routed(celery_app_factory) -> None:
    app = celery_app_factory(Settings(broker_url="memory://"))
    names = {name for name in app.tasks if name.startswith("smvm.stage.")}
    assert len(names) == 10  # the seven pipeline stages and the three of the T0+30 update
    assert app.amqp.router.route({}, "smvm.stage.market_simulation")["queue"].name == "smvm.simulation"
    assert app.amqp.router.route({}, "smvm.stage.posterior_update")["queue"].name == "smvm.simulation"
    assert app.amqp.router.route({}, "smvm.stage.posterior_report")["queue"].name == "smvm.pipeline"
    assert app.amqp.router.route({}, "smvm.stage.idea_validation")["queue"].name == "smvm.pipeline"
