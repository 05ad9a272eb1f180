"""kombu's Redis transport, with one client per channel instead of one per command.

kombu's ``Channel.conn_or_acquire`` builds a new ``redis.Redis`` for every publish, ack
and queue-index update; redis-py fills a 170-entry callback table in each constructor,
which measured ~175 µs of CPU, a fifth of a task publish in the API and a third of the
Celery parent's work per job. The client is stateless over the channel's connection
pool, so one per pool does the same job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None) -> Iterator:
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:  # pools are rebuilt after a fork
            shared = self._shared_client = self._create_client()
        yield shared


class Transport(redis.Transport):
    Channel = Channel
