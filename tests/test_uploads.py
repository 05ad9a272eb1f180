"""api.uploads.receive on its own: small uploads in memory, larger ones through a temp file,
the same key, digest, size, format and errors either way."""

from __future__ import annotations

import hashlib
import io
import tempfile

import pytest
import trimesh
from werkzeug.datastructures import FileStorage

from api import uploads
from api.errors import ApiError
from pipelines.sniff import MESH_FORMATS
from tasks import connections
from tasks.settings import get_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path))
    monkeypatch.setenv("MESHMILL_MAX_UPLOAD_BYTES", str(3 * uploads.CHUNK))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    get_settings.cache_clear()
    connections.reset()
    yield tmp_path
    connections.reset()
    get_settings.cache_clear()


def upload(data: bytes, name: str = "part.stl") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name)


def binary_stl(size: int) -> bytes:
    """A valid binary STL of about ``size`` bytes."""
    count = max(1, (size - 84) // 50)
    return b"\0" * 80 + count.to_bytes(4, "little") + b"\0" * (50 * count)


@pytest.mark.parametrize("size", [200, uploads.CHUNK - 34, uploads.CHUNK + 16, 2 * uploads.CHUNK + 66])
def test_small_and_large_uploads_store_the_same_way(home, size):
    data = binary_stl(size)
    stored = uploads.receive(upload(data), MESH_FORMATS)
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.sha256, stored.size, stored.format, stored.name) == (digest, len(data), "stl", "part.stl")
    assert connections.storage().get_bytes(stored.key) == data
    assert not list((home / "tmp").iterdir())  # no temp file left behind


def test_a_small_3mf_is_told_from_a_zip_in_memory(home):
    data = trimesh.creation.box().export(file_type="3mf")
    assert len(data) < uploads.CHUNK
    assert uploads.receive(upload(data, "box.3mf"), MESH_FORMATS).format == "3mf"


@pytest.mark.parametrize("data,status,code", [
    (b"", 422, "EMPTY_FILE"),
    (b"plain words, not a mesh\n" * 20, 415, "UNSUPPORTED_MEDIA_TYPE"),
    (binary_stl(3 * uploads.CHUNK + 500), 413, "PAYLOAD_TOO_LARGE"),
], ids=["empty", "not-a-mesh", "over-limit"])
def test_bad_uploads(home, data, status, code):
    with pytest.raises(ApiError) as info:
        uploads.receive(upload(data), MESH_FORMATS)
    assert (info.value.status, info.value.code) == (status, code)


def test_over_limit_in_one_chunk(home, monkeypatch):
    monkeypatch.setenv("MESHMILL_MAX_UPLOAD_BYTES", "1000")
    get_settings.cache_clear()
    with pytest.raises(ApiError) as info:
        uploads.receive(upload(binary_stl(5000)), MESH_FORMATS)
    assert info.value.code == "PAYLOAD_TOO_LARGE"
