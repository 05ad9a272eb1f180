"""Uploads: stream to a temp file with a size cap, hash, sniff the format by content,
store under the content-addressed key."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.datastructures import FileStorage

from api.errors import ApiError
from pipelines.sniff import SNIFF_BYTES, sniff, zip_kind
from tasks import connections
from tasks.settings import get_settings
from tasks.storage import Storage, input_key

CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredInput:
    key: str
    sha256: str
    size: int
    format: str
    name: str


def safe_name(raw: str | None) -> str:
    """A display name: no path, no control characters, at most 200 characters."""
    name = (raw or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .") or "upload"
    return name[:200]


def receive(upload: FileStorage | None, allowed: frozenset[str], *, field: str = "file") -> StoredInput:
    """Store an uploaded file; 422 when missing, 413 over the size limit, 415 for a format not allowed.

    An upload that fits in one chunk is handled in memory (werkzeug holds small parts in
    memory already); a larger one streams through a temp file, so memory stays bounded.
    """
    if upload is None or upload.stream is None:
        raise ApiError(422, "VALIDATION_ERROR", "a file is required", {"fields": {field: ["Missing file."]}})
    limit = get_settings().max_upload_bytes
    first = upload.stream.read(CHUNK)
    more = upload.stream.read(1)  # empty: the whole upload is in `first`
    if not more:
        return _store_small(first, allowed, limit, field, safe_name(upload.filename))
    fd, tmp = tempfile.mkstemp(prefix="meshmill-upload-")
    try:
        size, digest, head = _copy_capped(chain((first, more), iter(lambda: upload.stream.read(CHUNK), b"")), fd, limit)
        fmt = _checked_format(head, size, allowed, field, Path(tmp))
        key = _store_once(digest, lambda storage, key: storage.put_file(key, Path(tmp)))
        return StoredInput(key, digest, size, fmt, safe_name(upload.filename))
    finally:
        os.unlink(tmp)


def _store_small(data: bytes, allowed: frozenset[str], limit: int, field: str, name: str) -> StoredInput:
    _check_size(len(data), limit)
    fmt = _checked_format(data[:SNIFF_BYTES], len(data), allowed, field, io.BytesIO(data))
    digest = hashlib.sha256(data).hexdigest()
    key = _store_once(digest, lambda storage, key: storage.put_bytes(key, data))
    return StoredInput(key, digest, len(data), fmt, name)


def _store_once(digest: str, put: Callable[[Storage, str], None]) -> str:
    """The content-addressed key of ``digest``; ``put(storage, key)`` stores the bytes unless a
    previous upload of the same content already did."""
    key = input_key(digest)
    storage = connections.storage()
    if not storage.exists(key):
        put(storage, key)
    return key


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"file is larger than {limit} bytes", {"max_bytes": limit})


def _checked_format(head: bytes, size: int, allowed: frozenset[str], field: str, source: Path | BinaryIO) -> str:
    """The detected format; 422 for an empty file, 415 for one not allowed here."""
    if size == 0:
        raise ApiError(422, "EMPTY_FILE", "the uploaded file is empty", {"field": field})
    fmt = detect_format(head, size, source)
    if fmt not in allowed:
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "file format not supported here (detected by content)",
                       {"detected": fmt, "allowed": sorted(allowed)})
    return fmt


def _copy_capped(chunks: Iterable[bytes], fd: int, limit: int) -> tuple[int, str, bytes]:
    digest, size, head = hashlib.sha256(), 0, b""
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            _check_size(size, limit)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest(), head


def detect_format(head: bytes, size: int, source: Path | BinaryIO) -> str:
    """sniff(), plus telling a 3MF from any other zip by its central directory (no extraction)."""
    fmt = sniff(head, size) or "unknown"
    if fmt == "zip":
        try:
            with zipfile.ZipFile(source) as archive:
                return zip_kind(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return "zip"
    return fmt


def multipart_body(form_schema: type[Schema], *, json_schema: type[Schema] | None = None, file_required=True):
    """Document one request body: multipart/form-data (the form fields plus a binary ``file``),
    and optionally application/json.

    flask-smorest documents only the first body location of stacked ``@blp.arguments`` and
    lists the others as OAS 2 ``formData`` parameters; they are parsed all the same. Put this
    decorator above the ``@blp.arguments`` of an upload view.
    """
    upload = form_schema.from_dict(  # a subclass: the form fields plus the file part
        {"file": fields.Raw(required=file_required, metadata={"type": "string", "format": "binary"})},
        name=f"{form_schema.__name__}Upload")
    content: dict = {"multipart/form-data": {"schema": upload}}
    if json_schema is not None:
        content["application/json"] = {"schema": json_schema}

    def decorate(view):
        view = Blueprint.doc(requestBody={"required": True, "content": content})(view)
        params = view._apidoc.get("arguments", {}).get("parameters", [])
        params[:] = [p for p in params if p["in"] == "json" and json_schema is not None]
        return view

    return decorate
