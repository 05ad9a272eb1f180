"""A whole Meshmill running for tests: API over HTTP, a Celery worker and beat as real
processes, on either the embedded defaults or the real servers (Redis, PostgreSQL,
moto's S3 server)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("MESHMILL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_ADMIN_DSN = os.environ.get("MESHMILL_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
ACTIVE_QUEUES = "mesh,cad,contour,generate,webhooks,maintenance"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def base_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    """Settings every test stack shares: short leases and sweeps, loopback allowed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHMILL_")}
    env.update({
        "MESHMILL_HOME": str(home),
        "MESHMILL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MESHMILL_URL_ALLOWLIST": "127.0.0.1,localhost,::1",
        "MESHMILL_LEASE_SECONDS": "3",
        "MESHMILL_HEARTBEAT_SECONDS": "0.5",
        "MESHMILL_SWEEP_SECONDS": "1",
        "MESHMILL_REDRIVE_SECONDS": "2",
        "MESHMILL_MAX_ATTEMPTS": "2",
        "MESHMILL_RETRY_BACKOFF_MAX": "2",
        "MESHMILL_WEBHOOK_MAX_RETRIES": "4",
        "MESHMILL_WEBHOOK_TIMEOUT": "2",
        "MESHMILL_MAX_UPLOAD_BYTES": str(24 * 2**20),
        "MESHMILL_PROGRESS_INTERVAL": "0.05",
        "MESHMILL_RATE_LIMIT": "",  # tests poll fast; test_ratelimit.py sets its own
        "MESHMILL_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@dataclass
class Stack:
    """Processes of one running Meshmill and a client for it."""

    kind: str
    home: Path
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    admin_token: str = ""
    cleanup: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "api.cli", *args], env=self.env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"meshmill {' '.join(args)} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", *args], env=self.env, cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start(self) -> None:
        out = self.cli("keys", "create", "--admin", "--name", "test admin", "--migrate")
        self.admin_token = re.search(r"api key:\s+(\S+)", out).group(1)
        self.spawn("api", "api", "--port", str(self.port))
        self.start_worker()
        self.spawn("beat", "beat")
        wait_port(self.port)
        self.wait_healthy()

    def start_worker(self) -> subprocess.Popen:
        return self.spawn("worker", "worker", "-q", ACTIVE_QUEUES, "-P", "prefork", "-c", "2", "-n",
                          f"test-{uuid.uuid4().hex[:6]}")

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = httpx.get(f"{self.url}/api/v1/health", timeout=5)
                if last.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"stack not healthy: {last and last.text}")

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group: parent and pool children, no goodbye."""
        proc = self.procs.pop("worker")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def pause_worker(self) -> None:
        os.killpg(self.procs["worker"].pid, signal.SIGSTOP)

    def resume_worker(self) -> None:
        os.killpg(self.procs["worker"].pid, signal.SIGCONT)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)

    def new_key(self, name: str = "user") -> dict:
        with self.client() as admin:
            response = admin.post("/keys", json={"name": name})
        response.raise_for_status()
        return response.json()

    def logs(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for fn in reversed(self.cleanup):
            fn()


def embedded_stack(home: Path) -> Stack:
    port = free_port()
    return Stack("embedded", home, base_env(home, port), port)


def start_moto(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(home / "moto.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def create_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    host = re.search(r"host=(\S+)", PG_ADMIN_DSN).group(1)
    port = re.search(r"port=(\S+)", PG_ADMIN_DSN).group(1)
    user = re.search(r"user=(\S+)", PG_ADMIN_DSN).group(1)
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def servers_stack(home: Path) -> Stack:
    """Redis broker, PostgreSQL job store, moto S3 storage."""
    import boto3

    moto, endpoint = start_moto(home)
    bucket = f"meshmill-{uuid.uuid4().hex[:8]}"
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    db_name = f"meshmill_test_{uuid.uuid4().hex[:8]}"
    db_url = create_database(db_name)
    port = free_port()
    env = base_env(home, port, MESHMILL_BROKER_URL=REDIS_URL, MESHMILL_DATABASE_URL=db_url,
                   MESHMILL_BROKER_PREFIX=f"test-{uuid.uuid4().hex[:8]}:",
                   MESHMILL_STORAGE_URL=f"s3://{bucket}", MESHMILL_S3_ENDPOINT_URL=endpoint, **creds)
    stack = Stack("servers", home, env, port)
    stack.cleanup += [lambda: (moto.terminate(), moto.wait(10)), lambda: drop_database(db_name)]
    return stack


def poll(client: httpx.Client, job_id: str, states: set[str], timeout: float = 60) -> dict:
    """GET the job until its state is one of ``states``."""
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job.get("state") in states:
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} not in {states} after {timeout}s: {job}")


def missing_services() -> Iterator[str]:
    """Names of the real services that do not answer."""
    import psycopg
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:
        yield "redis"
    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=2).close()
    except Exception:
        yield "postgresql"
