"""The platform end to end, over real HTTP, real worker processes and real webhooks,
on the embedded defaults and on Redis + PostgreSQL + moto S3."""

from __future__ import annotations

import http.client
import io
import json
import struct
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trimesh
from openapi_spec_validator import validate as validate_spec
from standardwebhooks.webhooks import WebhookVerificationError

from tests.stack import poll

DATA = Path(__file__).parent / "data"
CUBE = (DATA / "sample_cube.stl").read_bytes()
TERMINAL = {"succeeded", "failed", "dead", "canceled"}


def post_mesh(client: httpx.Client, data: bytes, name: str = "part.stl", **form) -> httpx.Response:
    headers = form.pop("headers", {})
    return client.post("/mesh/analyze", files={"file": (name, data)}, data=form, headers=headers)


def analyze(client: httpx.Client, data: bytes, **form) -> dict:
    response = post_mesh(client, data, **form)
    assert response.status_code == 202, response.text
    return poll(client, response.json()["id"], TERMINAL)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def big_sphere_stl() -> bytes:
    """~330k triangles: long enough to catch a worker in the middle of the job."""
    return trimesh.creation.icosphere(subdivisions=7).export(file_type="stl")


def test_health_reports_each_dependency(stack):
    response = httpx.get(f"{stack.url}/api/v1/health")
    assert response.status_code == 200
    assert {k: v["ok"] for k, v in response.json()["checks"].items()} == {
        "database": True, "broker": True, "storage": True}


def test_analyze_walk_with_signed_webhook(stack, user, receiver):
    client, key = user
    path = f"/hook/{uuid.uuid4().hex}"
    response = post_mesh(client, CUBE, name="../../etc/cube.stl", units="cm", callback_url=receiver.url + path)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["state"] == "queued" and job["input"]["name"] == "cube.stl" and job["input"]["format"] == "stl"

    done = poll(client, job["id"], TERMINAL)
    assert done["state"] == "succeeded", done
    assert done["result"]["volume_cm3"] == pytest.approx(8000.0)  # 20^3 cm^3
    assert done["result"]["is_watertight"] is True and done["progress"] == 100

    events = client.get(f"/jobs/{job['id']}/events").json()["items"]
    types = [e["type"] for e in events]
    assert types[0] == "job.queued" and "job.running" in types and types[-1] == "job.succeeded"

    hook = receiver.wait_for(path, "job.succeeded")
    payload = hook.verified(key["webhook_secret"])
    assert payload["id"] == job["id"] and payload["state"] == "succeeded"
    assert payload["result"] == done["result"]
    with pytest.raises(WebhookVerificationError):
        hook.verified("whsec_" + "A" * 32)  # a wrong secret does not verify


def test_idle_kept_alive_connection_is_reused(stack):
    """A pooled connection idle past gunicorn's default 2 s keep-alive still serves the next
    request (the server must not close it under a client about to reuse it)."""
    url = urlsplit(stack.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/health")
        assert conn.getresponse().read() and conn.sock is not None
        first = conn.sock
        time.sleep(3)
        conn.request("GET", "/api/v1/health")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["status"] == "ok"
        assert conn.sock is first  # the same socket: nothing was reopened
    finally:
        conn.close()


def test_key_isolation(stack, user):
    client, _ = user
    other = stack.new_key("other")
    job = analyze(client, CUBE)
    with stack.client(other["api_key"]) as stranger:
        assert_error(stranger.get(f"/jobs/{job['id']}"), 404, "JOB_NOT_FOUND")
        assert_error(stranger.post(f"/jobs/{job['id']}/cancel"), 404, "JOB_NOT_FOUND")
        assert job["id"] not in {j["id"] for j in stranger.get("/jobs").json()["items"]}
        assert_error(stranger.get("/dlq"), 403, "FORBIDDEN")
    with stack.client() as admin:
        assert admin.get(f"/jobs/{job['id']}").status_code == 200


def test_auth_errors(stack):
    url = f"{stack.url}/api/v1/jobs"
    assert_error(httpx.get(url), 401, "UNAUTHORIZED")
    assert_error(httpx.get(url, headers={"Authorization": "Bearer nope"}), 401, "UNAUTHORIZED")


def test_list_filters_and_pages(stack, user):
    client, _ = user
    ids = [analyze(client, CUBE)["id"] for _ in range(3)]
    page = client.get("/jobs", params={"page_size": 2, "state": "succeeded", "domain": "mesh"}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["items"][0]["id"] == ids[-1]
    assert client.get("/jobs", params={"state": "failed"}).json()["total"] == 0
    assert_error(client.get("/jobs", params={"state": "bogus"}), 422, "VALIDATION_ERROR")


def test_listing_leaves_results_out_unless_asked(stack, user):
    """A sprite mesh's result is ~160 KB, so a page of 200 was tens of MB and seconds to read."""
    client, _ = user
    job = analyze(client, CUBE)
    listed = client.get("/jobs").json()["items"][0]
    assert listed["id"] == job["id"] and listed["state"] == "succeeded" and "result" not in listed
    assert listed["artifacts"] == job["artifacts"]
    full = client.get("/jobs", params={"include": "result"}).json()["items"][0]
    assert full["result"] == job["result"] and full["result"]["volume_cm3"] == 8.0
    assert_error(client.get("/jobs", params={"include": "params"}), 422, "VALIDATION_ERROR")


def test_integers_past_a_database_column_are_4xx_not_500(stack, user, admin):
    """Found by schemathesis: ?page=12041382127207110951305216 reached SQL as an offset and the
    database raised (SQLite: OverflowError), a 500. Every integer a request gives is bounded."""
    client, _ = user
    job = analyze(client, CUBE)
    huge = str(2**80)
    assert_error(client.get("/jobs", params={"page": huge}), 422, "VALIDATION_ERROR")
    assert client.get("/jobs", params={"page": 1_000_000}).json()["items"] == []  # the last page allowed
    assert_error(client.get(f"/jobs/{job['id']}/events", params={"after": huge}), 422, "VALIDATION_ERROR")
    assert_error(admin.get("/dlq", params={"page": huge}), 422, "VALIDATION_ERROR")
    assert_error(admin.post("/keys", json={"name": "rich", "credits": 2**31}), 422, "VALIDATION_ERROR")
    assert admin.post(f"/dlq/{2**63}/retry").status_code == 404  # past the converter's range: no route
    assert_error(admin.post(f"/dlq/{2**63 - 1}/retry"), 409, "DEAD_LETTER_NOT_OPEN")


def test_idempotency_key_returns_first_job(stack, user):
    client, _ = user
    key = uuid.uuid4().hex
    first = post_mesh(client, CUBE, headers={"Idempotency-Key": key})
    second = post_mesh(client, CUBE, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = post_mesh(client, CUBE, units="in", headers={"Idempotency-Key": key})
    assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")
    assert client.get("/jobs").json()["total"] == 1


def test_validation_shapes(stack, user):
    client, _ = user
    error = assert_error(post_mesh(client, CUBE, units="parsec", callback_url="not a url"), 422,
                         "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {"units", "callback_url"}
    assert_error(client.post("/mesh/analyze", data={"units": "mm"}), 422, "VALIDATION_ERROR")
    assert_error(post_mesh(client, b""), 422, "EMPTY_FILE")
    error = assert_error(post_mesh(client, b"just some text, not a mesh\n" * 10, name="x.stl"), 415,
                         "UNSUPPORTED_MEDIA_TYPE")
    assert "stl" in error["details"]["allowed"]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    assert_error(post_mesh(client, png, name="cube.stl"), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_upload_over_limit_is_413(stack, user):
    client, _ = user
    too_big = b"solid x\n facet normal 0 0 0\n" + b" " * (25 * 2**20)
    assert_error(post_mesh(client, too_big), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("url", ["http://10.1.2.3/hook", "http://169.254.169.254/latest", "ftp://example.com/x"])
def test_private_callback_urls_refused(stack, user, url):
    client, _ = user
    if url.startswith("ftp"):
        assert_error(post_mesh(client, CUBE, callback_url=url), 422, "VALIDATION_ERROR")
    else:
        assert_error(post_mesh(client, CUBE, callback_url=url), 422, "UNSAFE_URL")


def binary_stl(count: int, payload_triangles: int) -> bytes:
    return b"\0" * 80 + struct.pack("<I", count) + b"\x01" * (50 * payload_triangles)


def zip_bomb_3mf() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("3D/3dmodel.model", "w", force_zip64=True) as member:
            chunk = b" " * 2**20
            for _ in range(700):
                member.write(chunk)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "data", "code"), [
    ("truncated.stl", binary_stl(1000, 10), "MESH_PARSE_ERROR"),
    ("empty.stl", binary_stl(0, 0), "MESH_EMPTY"),
    ("ascii.stl", b"solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0", "MESH_EMPTY"),  # no whole facet
    ("bomb.3mf", zip_bomb_3mf(), "ARCHIVE_TOO_LARGE"),
    ("missing.obj", b"v 0 0 0\nv 1 0 0\nf 1 2 9\n", "MESH_PARSE_ERROR"),
], ids=["truncated-stl", "zero-triangles", "truncated-ascii", "zip-bomb-3mf", "bad-obj-index"])
def test_bad_meshes_fail_permanently(stack, user, name, data, code):
    client, _ = user
    job = analyze(client, data, name=name)
    assert job["state"] == "failed", job
    assert job["error"]["code"] == code and job["error"]["class"] == "permanent"
    assert job["attempts"] == 1  # permanent: never retried
    events = client.get(f"/jobs/{job['id']}/events").json()["items"]
    assert events[-1]["type"] == "job.failed" and events[-1]["data"]["code"] == code
    # the history shows how far the step got, even when it failed before a progress write was due
    assert "loading mesh" in [e["message"] for e in events if e["type"] == "job.progress"]


def test_cancel_queued_job(stack, user, receiver):
    client, _ = user
    path = f"/hook/{uuid.uuid4().hex}"
    stack.pause_worker()
    try:
        job = post_mesh(client, CUBE, callback_url=receiver.url + path).json()
        canceled = client.post(f"/jobs/{job['id']}/cancel")
        assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"
        assert_error(client.post(f"/jobs/{job['id']}/cancel"), 409, "JOB_ALREADY_FINISHED")
    finally:
        stack.resume_worker()
    after = analyze(client, CUBE)  # the worker has drained the canceled job's message
    assert after["state"] == "succeeded"
    assert client.get(f"/jobs/{job['id']}").json()["state"] == "canceled"
    assert receiver.wait_for(path, "job.canceled").json()["state"] == "canceled"


def test_killed_worker_job_is_delivered_again(stack, user):
    client, _ = user
    job = post_mesh(client, big_sphere_stl()).json()
    poll(client, job["id"], {"running", *TERMINAL}, timeout=60)
    stack.kill_worker()
    try:
        state = client.get(f"/jobs/{job['id']}").json()
        assert state["state"] == "running", "the job should have been caught mid-run"
    finally:
        stack.start_worker()
    done = poll(client, job["id"], TERMINAL, timeout=90)
    assert done["state"] == "succeeded", done
    assert done["result"]["faces"] == 327680
    types = [e["type"] for e in client.get(f"/jobs/{job['id']}/events").json()["items"]]
    assert "job.requeued" in types and types.count("job.running") >= 2


def test_webhook_retried_until_delivered(stack, user, receiver):
    client, key = user
    path = f"/flaky/{uuid.uuid4().hex}"
    receiver.fail_first[(path, "job.succeeded")] = 2
    job = analyze(client, CUBE, callback_url=receiver.url + path)
    receiver.wait_for(path, "job.succeeded").verified(key["webhook_secret"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliveries = client.get(f"/jobs/{job['id']}/webhooks").json()["items"]
        succeeded = [d for d in deliveries if d["event_type"] == "job.succeeded"]
        if any(d["delivered"] for d in succeeded):
            break
        time.sleep(0.1)
    assert [d["status_code"] for d in succeeded] == [500, 500, 204]
    assert [d["attempt"] for d in succeeded] == [1, 2, 3]
    assert len({d["message_id"] for d in succeeded}) == 1  # retries keep the webhook-id


def test_storage_outage_is_retried_then_dead_lettered_then_redriven(stack, user):
    client, _ = user
    data = trimesh.creation.box(extents=[1, 2, 3 + uuid.uuid4().int % 1000 / 1000]).export(file_type="stl")
    stack.pause_worker()
    try:
        job = post_mesh(client, data).json()
        key = f"inputs/{job['input']['sha256']}"
        saved = stack_storage_get(stack, key)
        stack_storage_delete(stack, key)
    finally:
        stack.resume_worker()
    dead = poll(client, job["id"], TERMINAL, timeout=60)
    assert dead["state"] == "dead" and dead["error"]["class"] == "transient", dead
    types = [e["type"] for e in client.get(f"/jobs/{job['id']}/events").json()["items"]]
    assert types.count("job.retrying") == 2  # MESHMILL_MAX_ATTEMPTS=2 in the test stack
    with stack.client() as admin:
        letters = [d for d in admin.get("/dlq").json()["items"] if d["job_id"] == job["id"]]
        assert len(letters) == 1 and letters[0]["error_class"] == "transient"
        stack_storage_put(stack, key, saved)
        assert admin.post(f"/dlq/{letters[0]['id']}/retry").status_code == 202
        assert_error(admin.post(f"/dlq/{letters[0]['id']}/retry"), 409, "DEAD_LETTER_NOT_OPEN")
    done = poll(client, job["id"], {"succeeded", "failed"}, timeout=60)
    assert done["state"] == "succeeded" and done["error"] is None


def stack_storage(stack):
    from tasks.storage import open_storage

    env = stack.env
    url = env.get("MESHMILL_STORAGE_URL") or f"file://{stack.home / 'storage'}"
    if url.startswith("s3://"):
        import os

        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            os.environ[name] = env[name]
    return open_storage(url, endpoint_url=env.get("MESHMILL_S3_ENDPOINT_URL", ""))


def stack_storage_get(stack, key: str) -> bytes:
    return stack_storage(stack).get_bytes(key)


def stack_storage_put(stack, key: str, data: bytes) -> None:
    stack_storage(stack).put_bytes(key, data)


def stack_storage_delete(stack, key: str) -> None:
    storage = stack_storage(stack)
    if hasattr(storage, "client"):
        storage.client.delete_object(Bucket=storage.bucket, Key=storage._key(key))
    else:
        storage._path(key).unlink()


def test_openapi_and_metrics(stack, user):
    client, _ = user
    analyze(client, CUBE)
    spec = httpx.get(f"{stack.url}/openapi.json").json()
    validate_spec(spec)  # a valid OpenAPI 3 document: uploads are multipart bodies, not OAS 2 formData
    assert "/api/v1/mesh/analyze" in spec["paths"] and "/api/v1/jobs/{job_id}" in spec["paths"]
    upload = spec["paths"]["/api/v1/mesh/analyze"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["$ref"].endswith("MeshAnalyzeFormUpload")
    metrics = httpx.get(f"{stack.url}/api/v1/metrics").text
    assert 'meshmill_jobs{domain="mesh",state="succeeded"}' in metrics
    assert "meshmill_http_requests_total" in metrics
    stats = client.get("/stats").json()["domains"]
    mesh = next(d for d in stats if d["domain"] == "mesh" and d["operation"] == "analyze")
    assert mesh["states"]["succeeded"] >= 1 and mesh["success_rate"] == 1.0


def test_logs_are_json_with_job_and_request_ids(stack, user):
    client, _ = user
    job = analyze(client, CUBE, headers={"X-Request-ID": "req-test-123"})
    import json

    worker_lines = [json.loads(line) for line in stack.logs("worker").splitlines()
                    if line.startswith("{") and job["id"] in line]
    assert any(line.get("request_id") == "req-test-123" for line in worker_lines)
