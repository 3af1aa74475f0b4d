import fakeredis
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from smvm import metrics

pytestmark = pytest.mark.unit


def _scrape(client) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(metrics.StateCollector(None, client))
    samples = {}
    for family in registry.collect():
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    assert generate_latest(registry)
    return samples


def test_queue_depth_sums_priority_lists_and_counts_unacked() -> None:
    client = fakeredis.FakeRedis()
    client.rpush("smvm.pipeline", "a", "b")
    client.rpush("smvm.pipeline\x06\x169", "c")
    client.rpush("smvm.simulation", "d")
    client.hset("unacked", mapping={"t1": "x", "t2": "y"})
    samples = _scrape(client)
    assert samples["smvm_queue_depth{queue=smvm.pipeline}"] == 3
    assert samples["smvm_queue_depth{queue=smvm.simulation}"] == 1
    assert samples["smvm_queue_depth{queue=smvm.callbacks}"] == 0
    assert samples["smvm_queue_unacked{}"] == 2
    assert samples["smvm_metrics_source_up{dependency=redis}"] == 1


def test_sweeper_totals_and_sync_freshness_come_from_what_workers_record() -> None:
    client = fakeredis.FakeRedis()
    metrics.record_sweep(client, {"requeued": 2, "expired": 0}, now=100.0)
    metrics.record_sweep(client, {"requeued": 1, "expired": 3}, now=200.0)
    metrics.record_task_success(client, "smvm.maintenance.sweep_stuck_stages", now=200.0)
    metrics.record_task_success(client, "smvm.maintenance.sync_results", now=150.0)
    samples = _scrape(client)
    assert samples["smvm_sweeper_actions_total{action=requeued}"] == 3
    assert samples["smvm_sweeper_actions_total{action=expired}"] == 3
    assert samples["smvm_sweeper_last_run_timestamp_seconds{}"] == 200.0
    assert samples["smvm_sync_last_success_timestamp_seconds{}"] == 150.0
    assert samples["smvm_task_last_success_timestamp_seconds{task=smvm.maintenance.sweep_stuck_stages}"] == 200.0


def test_breaker_states_are_counted_per_host_without_host_labels() -> None:
    client = fakeredis.FakeRedis()
    client.set("smvm:breaker:a.example:failures", 2)
    client.set("smvm:breaker:b.example:failures", 5)
    client.set("smvm:breaker:b.example:open_until", "9999999999.0")
    client.set("smvm:breaker:c.example:open_until", "1.0")
    collector = metrics.StateCollector(None, client)
    family = collector._breakers(now=1000.0)
    values = {sample.labels["state"]: sample.value for sample in family.samples}
    assert values == {"closed": 1, "open": 1, "half_open": 1}


def test_a_dependency_that_fails_is_reported_not_raised() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    client = fakeredis.FakeRedis(server=server)
    samples = _scrape(client)
    assert samples == {"smvm_metrics_source_up{dependency=redis}": 0.0}
