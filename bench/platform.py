"""Platform overhead: Meshmill analyze jobs vs a bare Celery no-op, same Redis, same run.

    python -m bench.platform [--jobs 500] [--burst 2000] [--rounds 3]

Starts a real stack (API over HTTP, a prefork worker with 2 processes, beat) on the Redis
broker with PostgreSQL jobs and local file storage, and a bare Celery app on another Redis
database with its own 2-process worker. Measures:

- latency: submit -> succeeded for ``--jobs`` sequential small analyze jobs, from the job row's
  own timestamps (the client polls every 10 ms: a faster poll steals the worker's CPU on a
  2-core box) and as the client saw it, against a bare ``noop.delay().get()`` taken just
  before each job (interleaved, so drifting background load reaches both sides alike);
- latency to the webhook: submit -> signed ``job.succeeded`` received by a local HTTP server,
  for up to 200 jobs (what a client that waits for webhooks instead of polling sees);
- throughput: ``--jobs`` analyze jobs submitted at once (8 client threads, kept-alive
  connections, the end watched by a count query every 250 ms), first created to last finished
  by the job rows, against ``--burst`` bare no-op tasks sent at once until all
  results are in. ``--rounds`` Meshmill bursts alternate with bare ones; each is compared
  with the mean of the bare bursts just before and after it, and the round with the median
  ratio is reported;
- CPU per job (or task) in each burst, by process group (API, worker with its pool children,
  beat, Redis, PostgreSQL, this client), from psutil: where the cost goes.

The client shares the 2 cores with the server, so it is kept lean: ``http.client`` on a
kept-alive connection (httpx spends ~1 ms of CPU per request; a bare Celery producer
spends ~1 ms per ``delay()`` in the same run).

Writes ``bench/results/platform.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psutil

from tests.stack import REDIS_URL, Stack, base_env, create_database, drop_database, free_port
from tests.webhook_receiver import WebhookReceiver

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "platform.json"
CUBE = (REPO / "tests" / "data" / "sample_cube.stl").read_bytes()
NOOP_BROKER = REDIS_URL.rsplit("/", 1)[0] + "/14"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 0.5) * 1000, 2), "p95_ms": round(pct(values, 0.95) * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2), "n": len(values)}


# ---------------------------------------------------------------- CPU per job


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, including children it has reaped
    (a recycled pool child's time moves into its parent's ``children_*`` fields)."""
    try:
        root = psutil.Process(pid)
        total = sum(root.cpu_times()[:4])
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += sum(child.cpu_times()[:2])
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _named_cpu(prefix: str) -> float:
    """CPU seconds of the process trees rooted at processes named ``prefix`` whose parent is
    not: PostgreSQL's backends come and go during a burst, and an exited backend's time
    moves into its postmaster's ``children_*`` fields instead of vanishing from the sum."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if not (proc.info["name"] or "").startswith(prefix):
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = proc.parent()
            if parent is None or not parent.name().startswith(prefix):
                total += _tree_cpu(proc.pid)
    return total


class CpuMeter:
    """CPU seconds (user + system) of named process groups, read around a burst: where each job's
    cost goes, which the ratio alone does not say."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def read(self) -> dict[str, float]:
        found = {name: _tree_cpu(pid) for name, pid in self.pids.items()}
        found["redis"] = _named_cpu("redis-server")
        found["postgres"] = _named_cpu("postgres")
        found["client"] = sum(psutil.Process().cpu_times()[:2])
        return found

    @staticmethod
    def per_item(before: dict[str, float], after: dict[str, float], items: int) -> dict[str, float]:
        """Milliseconds of CPU per job (or task) by group, and their total."""
        spent = {name: round(1000 * (after[name] - before[name]) / items, 2) for name in before}
        return {**spent, "total": round(sum(spent.values()), 2)}


def metered(meter: CpuMeter, items: int, run: Callable[[], dict]) -> dict:
    before = meter.read()
    result = run()
    return {**result, "cpu_ms_per_item": CpuMeter.per_item(before, meter.read(), items)}


# ---------------------------------------------------------------- bare Celery


class BareCelery:
    """The baseline: a 2-process prefork worker running a no-op task, on its own Redis db.

    It runs beside the Meshmill stack so the two are measured interleaved: on a shared
    2-core box the background load drifts, and both sides of the ratio should see it.
    """

    def __init__(self) -> None:
        import redis

        redis.Redis.from_url(NOOP_BROKER).flushdb()
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.noop_app", "worker", "-c", "2", "-P", "prefork",
             "--loglevel", "WARNING", "-n", "noop@%h"], cwd=REPO, env={**os.environ, "NOOP_BROKER": NOOP_BROKER},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from bench.noop_app import app, noop

        app.conf.broker_url = app.conf.result_backend = NOOP_BROKER
        self.noop = noop
        noop.delay().get(timeout=60)  # the worker is ready
        for _ in range(50):
            noop.delay().get(timeout=10)

    def round_trip(self) -> float:
        start = time.perf_counter()
        self.noop.delay().get(timeout=10)
        return time.perf_counter() - start

    def burst(self, tasks: int) -> dict:
        start = time.perf_counter()
        results = [self.noop.delay() for _ in range(tasks)]
        for result in results:
            result.get(timeout=120)
        elapsed = time.perf_counter() - start
        return {"tasks": tasks, "seconds": round(elapsed, 3), "per_second": round(tasks / elapsed, 1)}

    def stop(self) -> None:
        self.worker.terminate()
        self.worker.wait(30)


# ---------------------------------------------------------------- Meshmill


def start_stack(home: Path) -> tuple[Stack, str]:
    db_name = f"meshmill_bench_{int(time.time())}"
    port = free_port()
    env = base_env(home, port, MESHMILL_BROKER_URL=REDIS_URL, MESHMILL_DATABASE_URL=create_database(db_name),
                   MESHMILL_LOG_LEVEL="WARNING",
                   MESHMILL_BROKER_PREFIX=f"bench-{int(time.time())}:", MESHMILL_PROGRESS_INTERVAL="0.5",
                   MESHMILL_HEARTBEAT_SECONDS="5", MESHMILL_LEASE_SECONDS="30", MESHMILL_SWEEP_SECONDS="10")
    stack = Stack("bench", home, env, port)
    stack.start()
    return stack, db_name


class LeanClient:
    """One kept-alive HTTP/1.1 connection to the API: POST the sample cube, GET JSON.

    Each upload draws a fresh multipart boundary, as httpx, requests and curl do (a fixed
    one would let the server's boundary handling hide in a cache).
    """

    def __init__(self, base_url: str, token: str) -> None:
        url = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.auth = f"Bearer {token}"

    @staticmethod
    def multipart(payload: bytes, **fields: str) -> tuple[bytes, str]:
        """The body and its Content-Type."""
        boundary = os.urandom(16).hex()
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cube.stl"'
                     f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + payload + b"\r\n")
        return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str | None = None) -> dict:
        headers = {"Authorization": self.auth}
        if ctype:
            headers["Content-Type"] = ctype
        self.conn.request(method, "/api/v1" + path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    def submit(self, callback_url: str | None = None) -> tuple[str, float]:
        start = time.perf_counter()
        body, ctype = self.multipart(CUBE, **({"callback_url": callback_url} if callback_url else {}))
        job = self.request("POST", "/mesh/analyze", body, ctype)
        return job["id"], start

    def get(self, path: str, **params: object) -> dict:
        return self.request("GET", path + (f"?{urlencode(params)}" if params else ""))

    def close(self) -> None:
        self.conn.close()


def wait_done(client: LeanClient, job_id: str, interval: float = 0.001) -> dict:
    """Poll until the job ends. A fast poll steals CPU from the worker on a 2-core box, so the
    latency loop polls every 10 ms and reports the job row's own timestamps as the figure."""
    while True:
        job = client.get(f"/jobs/{job_id}")
        if job["state"] in ("succeeded", "failed", "dead"):
            return job
        time.sleep(interval)


def stamp(job: dict, name: str) -> datetime:
    return datetime.fromisoformat(job[name].replace("Z", "+00:00"))


def server_seconds(job: dict) -> float:
    return (stamp(job, "finished_at") - stamp(job, "created_at")).total_seconds()


def phases(job: dict) -> tuple[float, float]:
    """(created -> started: dispatch and queue, started -> finished: the worker's step)."""
    return ((stamp(job, "started_at") - stamp(job, "created_at")).total_seconds(),
            (stamp(job, "finished_at") - stamp(job, "started_at")).total_seconds())


def meshmill(stack: Stack, bare: BareCelery, jobs: int, burst: int, rounds: int) -> tuple[dict, dict]:
    """Meshmill's figures and the bare baseline's, measured interleaved (see BareCelery)."""
    key = stack.new_key("bench")
    client = LeanClient(stack.url, key["api_key"])
    try:
        for _ in range(20):
            wait_done(client, client.submit()[0])
        client_side, server_side, posts, queued, worked, failed, bare_trips = [], [], [], [], [], 0, []
        for _ in range(jobs):
            bare_trips.append(bare.round_trip())
            job_id, start = client.submit()
            posts.append(time.perf_counter() - start)
            job = wait_done(client, job_id, interval=0.01)
            client_side.append(time.perf_counter() - start)
            server_side.append(server_seconds(job))
            queue_s, work_s = phases(job)
            queued.append(queue_s)
            worked.append(work_s)
            failed += job["state"] != "succeeded"
        webhook = webhook_latency(client, min(jobs, 200))
    finally:
        client.close()
    bare_bursts, ours_bursts = alternate_bursts(stack, bare, jobs, burst, rounds)
    ratios = [ours["per_second"] / statistics.fmean([before["per_second"], after["per_second"]])
              for before, ours, after in zip(bare_bursts, ours_bursts, bare_bursts[1:], strict=False)]
    middle = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    ours = {"latency_client": summary_ms(client_side), "latency_server": summary_ms(server_side),
            "latency_to_webhook": webhook,
            "phases": {"post": summary_ms(posts), "dispatch_and_queue": summary_ms(queued),
                       "worker_step": summary_ms(worked)},
            "failed": failed, "burst": {**ours_bursts[middle], "rounds": ours_bursts,
                                        "ratio_per_round": [round(r, 3) for r in ratios]}}
    rate = statistics.fmean([bare_bursts[middle]["per_second"], bare_bursts[middle + 1]["per_second"]])
    return ours, {"latency": summary_ms(bare_trips),
                  "burst": {"tasks": burst, "per_second": round(rate, 1), "runs": bare_bursts,
                            "note": "the round with the median ratio: the mean of the bare bursts just "
                                    "before and just after Meshmill's"}}


def alternate_bursts(stack: Stack, bare: BareCelery, jobs: int, burst: int, rounds: int
                     ) -> tuple[list[dict], list[dict]]:
    """bare, Meshmill, bare, Meshmill, ..., bare: each Meshmill burst between two bare ones."""
    ours_meter = CpuMeter({name: proc.pid for name, proc in stack.procs.items()})
    bare_meter = CpuMeter({"worker": bare.worker.pid})

    def bare_burst() -> dict:
        return metered(bare_meter, burst, lambda: bare.burst(burst))

    bare_bursts, ours_bursts = [bare_burst()], []
    for _ in range(rounds):
        ours_bursts.append(burst_meshmill(stack, jobs, ours_meter))
        bare_bursts.append(bare_burst())
    return bare_bursts, ours_bursts


def webhook_latency(client: LeanClient, jobs: int) -> dict:
    """Submit -> signed ``job.succeeded`` webhook received, as a client that does not poll sees it.

    The receiver is a real HTTP server in this process; the webhook is sent by the worker's
    ``webhooks`` queue, so this adds a second Celery hop and an HTTP POST to the job's latency.
    """
    receiver = WebhookReceiver().start()
    try:
        latencies = []
        for n in range(jobs):
            path = f"/hook/{n}"
            _job_id, start = client.submit(receiver.url + path)
            while not any(r.json().get("type") == "job.succeeded" for r in receiver.for_path(path)):
                if time.perf_counter() - start > 60:
                    raise TimeoutError(f"no job.succeeded webhook for {path}")
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - start)
        return summary_ms(latencies)
    finally:
        receiver.stop()


def burst_meshmill(stack: Stack, jobs: int, meter: CpuMeter | None = None) -> dict:
    """8 client threads, each with its own kept-alive connection (as an SDK would hold one).
    The burst runs under a key of its own, and its end is watched with a count query every
    250 ms rather than a poll per job, which would load the same 2 cores. ``meter`` is read
    from before the first POST to the last job's end (not the listing that follows)."""
    token = stack.new_key("burst")["api_key"]
    clients = [LeanClient(stack.url, token) for _ in range(8)]
    local = threading.local()

    def one(_i: int) -> str:
        if not hasattr(local, "client"):
            local.client = clients.pop()
        return local.client.submit()[0]

    cpu_before = meter.read() if meter else None
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(jobs)))
    submitted = time.perf_counter() - start
    watcher = LeanClient(stack.url, token)
    try:
        while ended(watcher) < len(ids):
            time.sleep(0.25)
        cpu = CpuMeter.per_item(cpu_before, meter.read(), jobs) if meter else None
        done = [job for state in ENDED for job in jobs_in_state(watcher, state)]
    finally:
        watcher.close()
    elapsed = (max(stamp(j, "finished_at") for j in done) - min(stamp(j, "created_at") for j in done)).total_seconds()
    return {"jobs": jobs, "submit_seconds": round(submitted, 3), "seconds": round(elapsed, 3),
            "per_second": round(jobs / elapsed, 1), "succeeded": sum(j["state"] == "succeeded" for j in done),
            **({"cpu_ms_per_item": cpu} if cpu else {})}


ENDED = ("succeeded", "failed", "dead")


def ended(client: LeanClient) -> int:
    return sum(client.get("/jobs", state=state, page_size=1)["total"] for state in ENDED)


def jobs_in_state(client: LeanClient, state: str) -> list[dict]:
    rows, page = [], 1
    while True:
        body = client.get("/jobs", state=state, page_size=200, page=page)
        rows += body["items"]
        if len(rows) >= body["total"] or not body["items"]:
            return rows
        page += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="Meshmill bursts, each between two bare ones")
    args = parser.parse_args()
    baseline = BareCelery()
    try:
        with tempfile.TemporaryDirectory(prefix="meshmill-bench-") as tmp:
            stack, db_name = start_stack(Path(tmp))
            try:
                ours, bare = meshmill(stack, baseline, args.jobs, args.burst, args.rounds)
            finally:
                stack.stop()
                drop_database(db_name)
    finally:
        baseline.stop()
    out = {
        "bench": "platform", "broker": "redis", "database": "postgresql", "storage": "local",
        "worker": "prefork, 2 processes", "bare_celery": bare, "meshmill": ours,
        "ratios": {
            "latency_p50_client": round(ours["latency_client"]["p50_ms"] / bare["latency"]["p50_ms"], 2),
            "latency_p50_server": round(ours["latency_server"]["p50_ms"] / bare["latency"]["p50_ms"], 2),
            "latency_p50_to_webhook": round(ours["latency_to_webhook"]["p50_ms"] / bare["latency"]["p50_ms"], 2),
            "throughput_vs_bare_burst": round(ours["burst"]["per_second"] / bare["burst"]["per_second"], 3),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
