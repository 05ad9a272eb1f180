"""The broker moves to RabbitMQ by configuration alone: MESHMILL_BROKER_URL=amqp://..."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.stack import Stack, base_env, free_port, poll
from tests.test_platform import CUBE, TERMINAL, post_mesh

AMQP_HOST = os.environ.get("MESHMILL_TEST_AMQP_HOST", "127.0.0.1:5672")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def amqp_stack(tmp_path):
    from tests.conftest import require_service

    require_service("rabbitmq", AMQP_HOST)
    vhost = f"meshmill-test-{uuid.uuid4().hex[:8]}"  # a vhost of its own: no other run's queues
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    port = free_port()
    env = base_env(tmp_path, port, MESHMILL_BROKER_URL=f"amqp://guest:guest@{AMQP_HOST}/{vhost}")
    stack = Stack("amqp", tmp_path, env, port)
    stack.cleanup.append(lambda: rabbitmqctl("delete_vhost", vhost))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_analyze_on_rabbitmq(amqp_stack, receiver):
    key = amqp_stack.new_key()
    path = f"/amqp/{uuid.uuid4().hex}"
    with amqp_stack.client(key["api_key"]) as client:
        job = post_mesh(client, CUBE, callback_url=receiver.url + path).json()
        done = poll(client, job["id"], TERMINAL)
    assert done["state"] == "succeeded" and done["result"]["volume_cm3"] == pytest.approx(8.0)
    assert receiver.wait_for(path, "job.succeeded").verified(key["webhook_secret"])["id"] == job["id"]
