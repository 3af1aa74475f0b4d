import json
import types

import fakeredis
import pytest

from workers import broker

pytestmark = pytest.mark.unit


def test_reserved_messages_count_for_their_own_queue_only(monkeypatch) -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    client.lpush("smvm.pipeline", b"m1", b"m2")
    client.lpush("smvm.simulation\x06\x166", b"m3")  # a priority list counts for its queue
    # kombu's unacked hash: delivery tag -> [message, exchange, routing key]; the sweep's own message is one.
    client.hset("unacked", "tag-1", json.dumps([{}, "", "smvm.pipeline"]))
    client.hset("unacked", "tag-2", json.dumps([{}, "", "smvm.maintenance"]))
    client.hset("unacked", "tag-3", b"not json")
    monkeypatch.setattr(broker.redis.Redis, "from_url", lambda *a, **k: fakeredis.FakeRedis(server=server))
    app = types.SimpleNamespace(smvm_settings=types.SimpleNamespace(broker_url="redis://127.0.0.1:6379/0"))

    depths = broker.queued_messages(app)

    assert depths == {"smvm.pipeline": 3, "smvm.simulation": 1, "smvm.callbacks": 0, "smvm.maintenance": 1}


def test_a_broker_that_cannot_answer_gives_no_depths() -> None:
    app = types.SimpleNamespace(smvm_settings=types.SimpleNamespace(broker_url="amqp://guest@127.0.0.1//"))
    assert broker.queued_messages(app) is None
