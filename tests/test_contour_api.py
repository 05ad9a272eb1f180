"""The contour domain (seed 002) end to end: real API, worker and beat on both stacks,
images served by a real HTTP server on loopback; plus the safe fetcher on its own."""

from __future__ import annotations

import struct
import sys
import threading
import time
import uuid
import zlib
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import httpx
import numpy as np
import pytest

from pipelines.contour_params import ContourParams
from pipelines.errors import InputError, RemoteError
from tests.archives import zip_bytes
from tests.stack import poll

TERMINAL = {"succeeded", "failed", "dead", "canceled"}
# seed 002's progress steps; 40 % and 50 % are plural here because every island is meshed
SEED_STEPS = ["Loading image...", "Creating mask...", "Processing contours...", "Finding contours...",
              "Simplifying contours...", "Triangulating mesh...", "Generating UV coordinates...",
              "Calculating edges...", "Mesh generation complete"]
RESULT_KEYS = {"vertices", "triangles", "uvs", "boundary_edges", "internal_edges", "metadata"}


# ---------------------------------------------------------------- images made here


def png(rgba: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", rgba[..., [2, 1, 0, 3]])  # OpenCV writes BGRA
    assert ok
    return buf.tobytes()


def sprite(seed: int = 0) -> bytes:
    """An anti-aliased RGBA sprite: a disc and a bar, on transparency."""
    img = np.zeros((96, 128, 4), np.uint8)
    cv2.circle(img, (50 + seed, 48), 30, (200, 80, 40, 255), -1, cv2.LINE_AA)
    cv2.rectangle(img, (70, 20 + seed), (110, 40 + seed), (0, 200, 0, 255), -1)
    return png(img)


def transparent() -> bytes:
    return png(np.zeros((64, 64, 4), np.uint8))


def png_header_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose IHDR claims width x height RGBA pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")




# ---------------------------------------------------------------- a real image server on loopback


class QuietServer(ThreadingHTTPServer):
    """The fetcher hangs up on oversized and slow bodies on purpose: that is not an error here."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ImageServer:
    """Serves ``files`` on 127.0.0.1, plus redirects, errors, a slow and an endless answer."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requested: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:
                server.requested.append(self.path)
                path = self.path
                if path in server.files:
                    return self.answer(200, server.files[path])
                if path.startswith("/hop/"):
                    left = int(path.rsplit("/", 1)[-1])
                    return self.redirect(f"/hop/{left - 1}" if left > 0 else "/sprite.png")
                if path == "/to-metadata":
                    return self.redirect("http://169.254.169.254/latest/meta-data/")
                if path == "/boom":
                    return self.answer(503, b"down")
                if path == "/slow":
                    time.sleep(3)
                    return self.answer(200, b"late")
                if path == "/endless":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()  # no Content-Length: the cap must hold while streaming
                    for _ in range(64):
                        self.wfile.write(b"x" * 65536)
                    return None
                if path == "/liar":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10**9))
                    self.end_headers()
                    return None
                return self.answer(404, b"not here")

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def images():
    with ImageServer() as server:
        server.files["/sprite.png"] = sprite()
        server.files["/second.png"] = sprite(seed=3)
        yield server


# ---------------------------------------------------------------- helpers


def post_file(client: httpx.Client, data: bytes, name: str = "hero.png", **form) -> httpx.Response:
    return client.post("/contour/generate", files={"file": (name, data)}, data=form)


def run(client: httpx.Client, response: httpx.Response, timeout: float = 60) -> dict:
    assert response.status_code == 202, response.text
    return poll(client, response.json()["id"], TERMINAL, timeout=timeout)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def check_mesh(result: dict, width: int = 128, height: int = 96) -> None:
    assert set(result) >= RESULT_KEYS
    vertices, hull = result["vertices"], result["hull"]
    assert len(result["uvs"]) == len(vertices) >= 3 and result["triangles"]
    assert result["metadata"]["width"] == width and result["metadata"]["height"] == height
    assert all(0 <= u <= 1 and 0 <= v <= 1 for u, v in result["uvs"])
    # hull first, in ring order: the boundary of this one-island sprite is 0-1-2-...-(hull-1)-0
    ring = {tuple(sorted((i, (i + 1) % hull))) for i in range(hull)}
    assert {tuple(sorted(e)) for e in result["boundary_edges"]} == ring
    assert all(max(e) < len(vertices) for e in result["internal_edges"])


# ---------------------------------------------------------------- through the stack


def test_sprite_upload_meshes_with_progress_and_artifacts(stack, user, receiver):
    client, key = user
    hook = f"/contour/{uuid.uuid4().hex}"
    response = post_file(client, sprite(), preset="balanced", blur_kernel_size="4", callback_url=receiver.url + hook)
    job = run(client, response)
    assert job["state"] == "succeeded", job
    assert job["progress"] == 100 and job["input"]["format"] == "png" and job["input"]["name"] == "hero.png"
    assert job["params"]["preset"] == "balanced" and job["params"]["blur_kernel_size"] == 5  # even -> odd
    assert job["params"]["max_vertices"] == 1000  # from the preset
    check_mesh(job["result"])

    arts = {a["name"]: a for a in job["artifacts"]}
    assert set(arts) == {"mesh.json", "spine.json"}
    mesh = client.get(f"/jobs/{job['id']}/artifacts/mesh.json")
    assert mesh.status_code == 200 and mesh.json() == job["result"]
    spine = client.get(f"/jobs/{job['id']}/artifacts/spine.json").json()
    assert spine["type"] == "mesh" and spine["hull"] == job["result"]["hull"] and spine["path"] == "hero"
    assert len(spine["uvs"]) == len(spine["vertices"]) == 2 * len(job["result"]["vertices"])

    events = client.get(f"/jobs/{job['id']}/events").json()["items"]
    progress = [e for e in events if e["type"] == "job.progress"]
    messages = [e["message"] for e in progress]
    assert [m for m in messages if m in SEED_STEPS] == SEED_STEPS, messages
    steps = [e["progress"] for e in progress]
    assert steps == sorted(steps) and steps[messages.index("Loading image...")] == 10
    assert events[-1]["type"] == "job.succeeded" and events[-1]["progress"] == 100
    done = receiver.wait_for(hook, "job.succeeded").verified(key["webhook_secret"])
    assert done["result"] == job["result"] and done["progress"] == 100
    # progress webhooks are coalesced (a fast job may send none); any that came are signed steps
    for sent in [r for r in receiver.for_path(hook) if r.json()["type"] == "job.progress"]:
        event = sent.verified(key["webhook_secret"])
        assert event["message"] in SEED_STEPS and event["progress"] < 100


def test_image_url_is_fetched_by_the_worker(stack, user, images):
    client, _ = user
    job = run(client, client.post("/contour/generate", json={
        "image_url": f"{images.url}/hop/1", "alpha_threshold": 20, "holes": False}))
    assert job["state"] == "succeeded", job
    check_mesh(job["result"])
    assert job["params"]["image_url"].endswith("/hop/1") and job["params"]["alpha_threshold"] == 20
    assert job["input"]["sha256"] is None
    names = {a["name"] for a in job["artifacts"]}
    assert names == {"mesh.json", "spine.json"}


def test_image_urls_batch_gives_per_image_results(stack, user, images):
    client, _ = user
    urls = [f"{images.url}/sprite.png", f"{images.url}/missing.png", f"{images.url}/second.png"]
    job = run(client, client.post("/contour/generate", json={"image_urls": urls}))
    assert job["state"] == "succeeded", job
    items = job["result"]["items"]
    assert [i["name"] for i in items] == ["sprite.png", "missing.png", "second.png"]
    assert items[1]["error"]["code"] == "URL_FETCH_FAILED" and items[1]["error"]["details"]["status"] == 404
    assert job["result"]["summary"] == {"images": 3, "succeeded": 2, "failed": 1}


@pytest.mark.parametrize("url", ["http://10.0.0.1/sprite.png", "http://169.254.169.254/latest/meta-data/"])
def test_private_image_urls_refused_at_the_api(stack, user, url):
    client, _ = user
    started = time.monotonic()
    error = assert_error(client.post("/contour/generate", json={"image_url": url}), 422, "UNSAFE_URL")
    assert "image_url" in error["details"]["fields"]
    error = assert_error(client.post("/contour/generate", json={"image_urls": ["http://93.184.215.14/a.png", url]}),
                         422, "UNSAFE_URL")
    assert list(error["details"]["fields"]["image_urls"]) == ["1"]
    assert time.monotonic() - started < 5  # refused, not tried
    assert client.get("/jobs", params={"domain": "contour", "state": "queued"}).json()["total"] == 0


def test_zip_batch_with_a_transparent_member(stack, user):
    client, _ = user
    data = zip_bytes({"sprites/a.png": sprite(), "sprites/blank.png": transparent(), "b.png": sprite(seed=2),
                   "__MACOSX/._a.png": b"junk"})
    job = run(client, post_file(client, data, name="sheet.zip"))
    assert job["state"] == "succeeded", job
    assert job["input"]["format"] == "zip"
    items = {i["name"]: i for i in job["result"]["items"]}
    assert set(items) == {"sprites/a.png", "sprites/blank.png", "b.png"}
    assert items["sprites/blank.png"]["error"]["code"] == "CONTOUR_NOT_FOUND"
    check_mesh(items["sprites/a.png"]["result"])
    check_mesh(items["b.png"]["result"])
    arts = {a["name"] for a in job["artifacts"]}
    assert arts == {"mesh.json", "spine-sprites_a.json", "spine-b.json"}
    spine = client.get(f"/jobs/{job['id']}/artifacts/spine-b.json").json()
    assert spine["path"] == "b" and spine["hull"] == items["b.png"]["result"]["hull"]
    assert client.get(f"/jobs/{job['id']}/artifacts/mesh.json").json() == job["result"]


@pytest.mark.parametrize(("name", "data", "code"), [
    ("blank.png", transparent(), "CONTOUR_NOT_FOUND"),
    ("bomb.png", png_header_bomb(), "IMAGE_TOO_LARGE"),
], ids=["transparent", "decompression-bomb"])
def test_bad_images_fail_permanently(stack, user, name, data, code):
    client, _ = user
    job = run(client, post_file(client, data, name=name))
    assert job["state"] == "failed", job
    assert job["error"]["code"] == code and job["error"]["class"] == "permanent" and job["attempts"] == 1


def test_image_url_404_fails_permanently(stack, user, images):
    client, _ = user
    job = run(client, client.post("/contour/generate", json={"image_url": f"{images.url}/nope.png"}))
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "URL_FETCH_FAILED" and job["error"]["details"]["status"] == 404
    assert job["attempts"] == 1


def test_request_validation(stack, user, images):
    client, _ = user
    error = assert_error(client.post("/contour/generate", files={"file": ("a.txt", b"not an image at all\n")}),
                         415, "UNSUPPORTED_MEDIA_TYPE")
    assert "png" in error["details"]["allowed"] and "zip" in error["details"]["allowed"]
    error = assert_error(post_file(client, sprite(), alpha_threshold="999", preset="nope"), 422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {"alpha_threshold", "preset"}
    error = assert_error(client.post("/contour/generate", json={
        "image_url": f"{images.url}/sprite.png", "alpha_threshold": 999, "preset": "nope", "max_vertices": 2.5}),
        422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {"alpha_threshold", "preset", "max_vertices"}
    error = assert_error(client.post("/contour/generate", json={"detail_factor": 0.02}), 422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {"file", "image_url", "image_urls"}
    error = assert_error(post_file(client, sprite(), image_url=f"{images.url}/sprite.png"), 422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {"file", "image_url"}
    assert_error(client.post("/contour/generate", json={"image_url": "ftp://example.com/a.png"}), 422,
                 "VALIDATION_ERROR")
    spec = httpx.get(f"{stack.url}/openapi.json").json()
    body = spec["paths"]["/api/v1/contour/generate"]["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}


# ---------------------------------------------------------------- the fetcher on its own


@pytest.fixture
def loopback_allowed(monkeypatch):
    from tasks.settings import get_settings

    monkeypatch.setenv("MESHMILL_URL_ALLOWLIST", "127.0.0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_fetch_follows_checked_redirects(images, loopback_allowed):
    from tasks.fetch import fetch_url

    assert fetch_url(f"{images.url}/hop/2", max_bytes=10**6, timeout=5) == images.files["/sprite.png"]
    with pytest.raises(InputError) as exc:
        fetch_url(f"{images.url}/hop/3", max_bytes=10**6, timeout=5)
    assert exc.value.code == "URL_FETCH_FAILED" and exc.value.details["max_redirects"] == 3
    with pytest.raises(InputError) as exc:
        fetch_url(f"{images.url}/to-metadata", max_bytes=10**6, timeout=5)
    assert exc.value.code == "UNSAFE_URL" and "169.254.169.254" in exc.value.details["url"]


def test_fetch_refuses_unsafe_urls_before_connecting(images, loopback_allowed):
    from tasks.fetch import fetch_url

    for url in ("http://10.0.0.1/x.png", "http://[::ffff:169.254.169.254]/", "file:///etc/passwd",
                f"http://user:pw@127.0.0.1:{images.httpd.server_address[1]}/sprite.png"):
        with pytest.raises(InputError) as exc:
            fetch_url(url, max_bytes=10**6, timeout=1)
        assert exc.value.code == "UNSAFE_URL", url


def test_fetch_caps_bytes_and_time(images, loopback_allowed):
    from tasks.fetch import fetch_url

    for path in ("/endless", "/liar"):
        with pytest.raises(InputError) as exc:
            fetch_url(f"{images.url}{path}", max_bytes=2**20, timeout=5)
        assert exc.value.code == "URL_TOO_LARGE", path
    with pytest.raises(RemoteError) as exc:
        fetch_url(f"{images.url}/slow", max_bytes=2**20, timeout=0.5)
    assert exc.value.code == "URL_FETCH_TIMEOUT"
    with pytest.raises(RemoteError) as exc:
        fetch_url(f"{images.url}/boom", max_bytes=2**20, timeout=5)
    assert exc.value.code == "URL_FETCH_FAILED" and exc.value.details["status"] == 503
    with pytest.raises(InputError) as exc:
        fetch_url(f"{images.url}/nothing", max_bytes=2**20, timeout=5)
    assert exc.value.details["status"] == 404


def test_every_mesher_parameter_is_a_documented_api_field():
    """A parameter added to ``ContourParams`` without an API field would be refused as unknown."""
    from api.contour import PARAM_DOCS

    assert set(PARAM_DOCS) == {field.name for field in fields(ContourParams)}
