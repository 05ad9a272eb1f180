"""Rate limits answer 429 in the one error shape, per API key, with Retry-After (real HTTP)."""

from __future__ import annotations

import re

import httpx

from tests.stack import Stack, base_env, free_port, wait_port


def test_rate_limit_per_key(tmp_path):
    port = free_port()
    stack = Stack("limited", tmp_path, base_env(tmp_path, port, MESHMILL_RATE_LIMIT="3/minute"), port)
    out = stack.cli("keys", "create", "--name", "a", "--migrate")
    token_a = re.search(r"api key:\s+(\S+)", out).group(1)
    token_b = re.search(r"api key:\s+(\S+)", stack.cli("keys", "create", "--name", "b")).group(1)
    stack.spawn("api", "api", "--port", str(port), "--workers", "1")
    try:
        wait_port(port)
        with httpx.Client(base_url=f"{stack.url}/api/v1", timeout=30) as http:
            def jobs(token):
                return http.get("/jobs", headers={"Authorization": f"Bearer {token}"})

            assert [jobs(token_a).status_code for _ in range(3)] == [200, 200, 200]
            limited = jobs(token_a)
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "RATE_LIMITED"
            assert int(limited.headers["Retry-After"]) > 0
            assert jobs(token_b).status_code == 200  # another key has its own budget
            assert all(http.get("/health").status_code == 200 for _ in range(5))  # never limited
    finally:
        stack.stop()
