"""kombu's Redis transport, keeping one Redis client per channel for publishing.

kombu builds a new ``redis.Redis`` for every message it publishes outside the worker's event loop
(``Channel.conn_or_acquire``), and redis-py's constructor copies its ~200 response callbacks each time: about
0.2 ms of CPU per publish, twice per task with task-sent events on. The API publishes a chain per POST and every
stage publishes its callbacks and the next stage, so that was a fifth of each publish. A ``redis.Redis`` is safe to
share between threads (each command borrows a connection from the pool), so the channel keeps one per pool.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


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
