"""The Redis broker transport against a real Redis: one client per channel, rebuilt with its pool."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Exchange, Queue

from tasks import redis_transport
from tests.conftest import require_services
from tests.stack import REDIS_URL


@pytest.fixture
def channel(monkeypatch):
    require_services()
    built = []
    original = redis_transport.Channel._create_client

    def counting(self, asynchronous=False):
        client = original(self, asynchronous)
        if not asynchronous:  # the consumer's own long-lived client is made once by kombu itself
            built.append(client)
        return client

    monkeypatch.setattr(redis_transport.Channel, "_create_client", counting)
    with Connection(REDIS_URL, transport=redis_transport.Transport) as conn:
        chan = conn.channel()
        yield chan, built
        chan.close()


def test_publishes_share_one_client_and_arrive(channel):
    chan, built = channel
    queue = Queue(f"t-{uuid.uuid4().hex}", Exchange("", type="direct"), routing_key="")
    queue(chan).declare()
    producer = chan.connection.client.Producer(chan)
    for n in range(5):
        producer.publish({"n": n}, routing_key=queue.name)
    assert len(built) == 1
    got = [queue(chan).get(no_ack=True).payload["n"] for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]
    queue(chan).delete()


def test_a_rebuilt_pool_gets_a_new_client(channel):
    chan, built = channel
    queue = Queue(f"t-{uuid.uuid4().hex}", Exchange("", type="direct"), routing_key="")
    queue(chan).declare()
    producer = chan.connection.client.Producer(chan)
    producer.publish({"n": 1}, routing_key=queue.name)
    chan._disconnect_pools()  # what kombu does after a fork
    producer.publish({"n": 2}, routing_key=queue.name)
    assert len(built) == 2 and built[1].connection_pool is chan.pool
    assert [queue(chan).get(no_ack=True).payload["n"] for _ in range(2)] == [1, 2]
    queue(chan).delete()
