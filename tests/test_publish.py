"""tasks.app.send: a job message lands on its queue's list with no per-publish declare on Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from base64 import b64decode

import redis

from tests.conftest import require_services
from tests.stack import REDIS_URL, REPO

SEND = """
from tasks.app import send
send("meshmill.mesh.analyze", ("job-1",))
send("meshmill.webhooks.deliver", ("job-1", "job.succeeded", {"state": "succeeded"}, "msg_1"))
"""


def test_send_puts_each_message_on_its_routed_queue_without_declaring(tmp_path):
    require_services()
    prefix = f"pub-{uuid.uuid4().hex[:8]}:"
    env = {**os.environ, "MESHMILL_HOME": str(tmp_path), "MESHMILL_BROKER_URL": REDIS_URL,
           "MESHMILL_BROKER_PREFIX": prefix}
    subprocess.run([sys.executable, "-c", SEND], env=env, cwd=REPO, check=True, timeout=60)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = {k.decode() for k in client.keys(prefix + "*")}
        assert keys == {prefix + "mesh", prefix + "webhooks"}  # no _kombu.binding.* sets written
        message = json.loads(client.lpop(prefix + "mesh"))
        assert message["headers"]["task"] == "meshmill.mesh.analyze"
        assert message["headers"]["argsrepr"] == "('job-1',)"
        assert json.loads(b64decode(message["body"]))[0] == ["job-1"]
        hook = json.loads(client.lpop(prefix + "webhooks"))
        assert json.loads(b64decode(hook["body"]))[0][3] == "msg_1"
    finally:
        for key in client.keys(prefix + "*"):
            client.delete(key)
