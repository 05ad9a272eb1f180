"""The one Settings object; the only module that reads the environment.

Every variable is ``MESHMILL_*``; a ``.env`` file in the working directory is read
first if present. With nothing set, everything runs on one machine: SQLite for jobs,
a local folder for files and kombu's filesystem transport as the broker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    """Configuration; field ``x_y`` is read from ``MESHMILL_X_Y``."""

    home: Path = Path("var")
    broker_url: str = ""
    database_url: str = ""
    storage_url: str = ""
    redis_url: str = ""
    broker_prefix: str = ""  # Redis broker: prefix every key, so environments can share one Redis
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    public_url: str = "http://127.0.0.1:8000"
    rate_limit: str = "600/minute"  # per API key (flask-limiter syntax); empty: no limit
    max_upload_bytes: int = 100 * 2**20
    max_triangles: int = 5_000_000
    presign_seconds: int = 3600
    # job leases: a running step renews its lease; beat re-enqueues expired ones
    lease_seconds: float = 20.0
    heartbeat_seconds: float = 5.0
    sweep_seconds: float = 10.0
    max_attempts: int = 4
    # transient retries (Celery's retry machinery: exponential backoff with jitter)
    retry_backoff_max: int = 600
    redrive_seconds: float = 30.0
    # progress: coalesce row/event/webhook writes to at most one per interval
    progress_interval: float = 0.5
    # webhooks
    fetch_timeout: float = 30.0  # image_url and other fetched inputs: whole fetch, redirects included
    webhook_timeout: float = 5.0
    webhook_max_retries: int = 8
    url_allowlist: tuple[str, ...] = field(default_factory=tuple)
    # Celery limits for CPU queues
    soft_time_limit: int = 300
    hard_time_limit: int = 330
    # A child is recycled after this many tasks or past this resident size. Memory is the
    # guard against native leaks; the task count is only a backstop, kept very high because
    # each recycle strands a job: billiard's exiting child lingers ~1 s after announcing its
    # death, and a job the parent handed it in that window waits until the replacement is up
    # (0.1-2.8 s measured; celery/celery#9588). At 2000 that stalled one burst round in five of
    # bench.platform to under half its rate. The fork itself costs ~65 ms of the parent's CPU.
    max_tasks_per_child: int = 100_000
    max_memory_per_child_kb: int = 2_000_000
    worker_concurrency: int = 0  # 0: one process per core
    api_workers: int = 0  # gunicorn processes; 0: one per core, at least 2
    api_threads: int = 8  # threads per API process
    # Seconds an idle kept-alive connection stays open. Longer than the usual load balancer
    # idle timeout (60 s on AWS ALB, nginx's upstream keepalive), so the server is never the
    # side that closes a pooled connection a client is about to reuse (gunicorn's own is 2 s).
    api_keepalive: int = 75
    log_level: str = "INFO"

    @property
    def broker(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'meshmill.db').resolve()}"

    @property
    def storage(self) -> str:
        return self.storage_url or f"file://{(self.home / 'storage').resolve()}"

    @property
    def broker_folder(self) -> Path:
        return (self.home / "broker").resolve()

    @property
    def embedded_broker(self) -> bool:
        return self.broker.startswith("filesystem")


def _coerce(kind: type | str, raw: str):
    kind = kind if isinstance(kind, str) else kind.__name__
    if "bool" in kind:
        return _bool(raw)
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    if "tuple" in kind:
        return _list(raw)
    if "Path" in kind:
        return Path(raw)
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from ``MESHMILL_*`` variables (after reading ``.env``)."""
    if environ is None:
        load_dotenv(Path.cwd() / ".env", override=False)
        environ = dict(os.environ)
    values = {}
    for f in fields(Settings):
        raw = environ.get(f"MESHMILL_{f.name.upper()}")
        if raw is None or (raw == "" and "str" not in str(f.type)):
            continue  # an empty string is a value only for text settings (MESHMILL_RATE_LIMIT= turns limits off)
        values[f.name] = _coerce(f.type, raw)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
