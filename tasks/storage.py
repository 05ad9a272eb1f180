"""File storage: one interface, a local folder or an S3 bucket behind it.

Keys are content-addressed for inputs (``inputs/<sha256>``) and per job for
artifacts (``artifacts/<job id>/<name>``). Writes are atomic, so a redelivered
step that writes the same key again is harmless.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

CHUNK = 1 << 20
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


_KEY = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")  # relative, no empty parts


def input_key(sha256: str) -> str:
    return f"inputs/{sha256}"


def artifact_key(job_id: str, name: str) -> str:
    if not _SAFE_NAME.match(name) or ".." in name:
        raise ValueError(f"unsafe artifact name {name!r}")
    return f"artifacts/{job_id}/{name}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class StorageError(Exception):
    """Storage unreachable or a key missing."""


class Storage(Protocol):
    def put_bytes(self, key: str, data: bytes, media_type: str = "application/octet-stream") -> None: ...
    def put_file(self, key: str, path: Path, media_type: str = "application/octet-stream") -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def iter_chunks(self, key: str) -> Iterator[bytes]: ...
    def exists(self, key: str) -> bool: ...
    def presigned_url(self, key: str, filename: str, seconds: int) -> str | None: ...
    def ping(self) -> None: ...


class LocalStorage:
    """Keys as files under a root folder."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        """The key's file; a key that could leave the root (``..``, absolute, odd characters) is refused.

        Checked on the string: ``Path.resolve()`` costs a system call per path component.
        """
        if not _KEY.fullmatch(key) or any(part in (".", "..") for part in key.split("/")):
            raise StorageError(f"key escapes storage root: {key!r}")
        return self.root / key

    def put_bytes(self, key: str, data: bytes, media_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def put_file(self, key: str, path: Path, media_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
        os.replace(tmp, target)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"missing key {key}") from exc

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        try:
            fh: BinaryIO = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError as exc:
            raise StorageError(f"missing key {key}") from exc
        with fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def presigned_url(self, key: str, filename: str, seconds: int) -> str | None:
        return None

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"storage folder not writable: {self.root}")


class S3Storage:
    """Keys as objects in one bucket (AWS S3 or any S3-protocol server)."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str = "us-east-1"):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=30)
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region, config=config)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_bytes(self, key: str, data: bytes, media_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=media_type)

    def put_file(self, key: str, path: Path, media_type: str = "application/octet-stream") -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": media_type})

    def get_bytes(self, key: str) -> bytes:
        return self._get(key)["Body"].read()

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        body = self._get(key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def _get(self, key: str):
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            raise StorageError(f"missing key {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def _head(self, key: str):
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return None

    def presigned_url(self, key: str, filename: str, seconds: int) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.bucket, "Key": self._key(key),
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'})

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def open_storage(url: str, *, endpoint_url: str = "", region: str = "us-east-1") -> Storage:
    """``file:///path`` or ``s3://bucket[/prefix]``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.path))
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, prefix=parsed.path, endpoint_url=endpoint_url or None, region=region)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///path or s3://bucket")
