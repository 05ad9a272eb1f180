"""GET /health names the dependency that is down and answers 503 (the API over real HTTP)."""

from __future__ import annotations

import httpx

from tests.stack import Stack, base_env, free_port, wait_port


def api_only(tmp_path, **env) -> Stack:
    port = free_port()
    stack = Stack("degraded", tmp_path, base_env(tmp_path, port, **env), port)
    stack.cli("migrate")
    stack.spawn("api", "api", "--port", str(port), "--workers", "1")
    return stack


def test_health_is_503_and_names_what_is_down(tmp_path):
    dead = free_port()  # nothing listens here
    stack = api_only(tmp_path, MESHMILL_BROKER_URL=f"redis://127.0.0.1:{dead}/0",
                     MESHMILL_STORAGE_URL="s3://nowhere", MESHMILL_S3_ENDPOINT_URL=f"http://127.0.0.1:{dead}",
                     AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    try:
        wait_port(stack.port)
        response = httpx.get(f"{stack.url}/api/v1/health", timeout=60)
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] is True
        assert checks["broker"]["ok"] is False and checks["storage"]["ok"] is False
        assert response.json()["status"] == "degraded"
    finally:
        stack.stop()


def test_an_unreachable_database_is_a_503_with_retry_after_not_a_500(tmp_path):
    dead = free_port()  # no PostgreSQL listens here
    port = free_port()
    stack = Stack("no-db", tmp_path, base_env(tmp_path, port, MESHMILL_DATABASE_URL=(
        f"postgresql+psycopg://postgres@127.0.0.1:{dead}/meshmill?connect_timeout=2")), port)
    stack.spawn("api", "api", "--port", str(port), "--workers", "1")
    try:
        wait_port(stack.port)
        response = httpx.get(f"{stack.url}/api/v1/jobs", headers={"Authorization": "Bearer mm_whatever"},
                             timeout=60)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        assert response.headers["Retry-After"] == "1"
        health = httpx.get(f"{stack.url}/api/v1/health", timeout=60)
        assert health.status_code == 503 and health.json()["checks"]["database"]["ok"] is False
    finally:
        stack.stop()


def test_a_connection_closed_under_a_request_is_a_503_not_a_500():
    """InterfaceError (a pooled connection found closed) passes like OperationalError: 503."""
    import sqlalchemy.exc
    from flask import Flask

    from api.errors import register_error_handlers

    app = Flask("closed-connection")
    register_error_handlers(app)

    @app.get("/read")
    def read():
        raise sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection already closed"))

    response = app.test_client().get("/read")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "DATABASE_UNAVAILABLE"
