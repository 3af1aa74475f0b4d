"""What we rely on from kombu's Redis transport, against a real Redis: one publishing client, priority lanes."""

from __future__ import annotations

import pytest
import redis

from smvm.config import Settings
from smvm.queues import CALLBACKS_QUEUE

pytestmark = pytest.mark.integration


@pytest.fixture
def celery_app(own_redis_url: str, celery_app_factory) -> object:
    """A db apart from every stack's: no worker may consume what these tests publish."""
    return celery_app_factory(Settings(env="test", broker_url=own_redis_url, redis_url=own_redis_url))


def _queued_delivery_ids(app) -> list[int]:
    """The delivery ids on the callbacks queue in the order a worker would take them."""
    ids = []
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(CALLBACKS_QUEUE, no_ack=True)
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                return ids
            args, _, _ = message.decode()
            ids.append(args[0])


def test_publishing_reuses_one_redis_client(celery_app, monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.publishing import CeleryPublisher

    publish_deliveries = CeleryPublisher(celery_app)
    publish_deliveries([1])  # connects and builds the channel's client
    constructed = []
    original = redis.Redis.__init__

    def counting_init(self, *args, **kwargs):
        constructed.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting_init)
    publish_deliveries([2, 3, 4, 5, 6])
    monkeypatch.undo()
    # Five task messages and five task-sent events; kombu's own transport built a client for each of the ten.
    assert constructed == []
    assert _queued_delivery_ids(celery_app) == [1, 2, 3, 4, 5, 6]


def test_a_decision_overtakes_queued_progress_updates(celery_app) -> None:
    from workers.publishing import CeleryPublisher

    publish_deliveries = CeleryPublisher(celery_app)
    publish_deliveries([1, 2, 3], routine=True)
    publish_deliveries([99])
    publish_deliveries([4], routine=True)
    assert _queued_delivery_ids(celery_app) == [99, 1, 2, 3, 4]

