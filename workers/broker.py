"""kombu's Redis transport, keeping one Redis client per channel for publishing; what the broker holds per queue.

kombu builds a new ``redis.Redis`` for every message it publishes outside the worker's event loop
(``Channel.conn_or_acquire``), and redis-py's constructor copies its ~200 response callbacks each time: ~0.13 ms of
CPU, twice per task with task-sent events on, a quarter of what a publish cost. The API publishes a chain per POST
and every stage publishes its callbacks and the next stage. A ``redis.Redis`` is safe to
share between threads (each command borrows a connection from the pool), so the channel keeps one per pool.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

from smvm.metrics import UNACKED_KEY, queue_depths

log = logging.getLogger(__name__)


class Channel(kombu_redis.Channel):
    _publish_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool  # a new pool after a reconnect or a fork: the client must follow it
        if self._publish_client is None or self._publish_client.connection_pool is not pool:
            self._publish_client = super()._create_client(asynchronous=False)
        return self._publish_client


class Transport(kombu_redis.Transport):
    Channel = Channel


#: The ``broker_transport`` setting that selects this transport for ``redis://`` broker URLs.
TRANSPORT = f"{__name__}:Transport"


def queued_messages(app: Any) -> dict[str, int] | None:
    """Messages per queue, waiting or reserved by a worker, or ``None`` when the broker cannot say.

    The sweeper and the due-poller compare these with what PostgreSQL says should be queued, to tell a backlog
    (leave it alone) from a loss (re-publish). Without an answer both re-publish: a duplicate costs a fenced claim,
    a lost message costs a run or a callback.
    """
    settings = app.smvm_settings
    try:
        client = redis.Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            # A message a worker has reserved but not yet started is in kombu's unacked hash, not in its list;
            # it still exists, so it counts for its queue (each entry is [message, exchange, routing key]).
            reserved = Counter(_routing_key(raw) for raw in client.hvals(UNACKED_KEY))
            return {queue: depth + reserved[queue] for queue, depth in queue_depths(client).items()}
        finally:
            client.close()
    except (redis.RedisError, ValueError):  # unreachable, or a broker that is not Redis
        log.warning("smvm.broker.queue_depths_unavailable", exc_info=True)
        return None


def _routing_key(raw: bytes) -> str | None:
    try:
        return json.loads(raw)[2]
    except (ValueError, TypeError, IndexError):
        return None
