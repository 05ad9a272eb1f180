"""The ``meshmill`` command: run everything, or one part; manage keys and the schema."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from tasks.settings import get_settings


def cmd_migrate(_args: argparse.Namespace) -> None:
    from tasks import connections, migrate

    get_settings().home.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(connections.engine())
    print("database schema is at head")


def cmd_keys_create(args: argparse.Namespace) -> None:
    from tasks import connections, jobstore

    if args.migrate:
        cmd_migrate(args)
    with connections.transaction() as conn:
        raw, key = jobstore.create_api_key(conn, args.name, admin=args.admin, credits=args.credits)
    print(f"api key:        {raw}\nid:             {key.id}\nadmin:          {key.is_admin}\n"
          f"webhook secret: {key.webhook_secret}")


def cmd_api(args: argparse.Namespace) -> None:
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", 120)
            self.cfg.set("keepalive", get_settings().api_keepalive)
            self.cfg.set("accesslog", None)

        def load(self):
            from api.app import create_app

            return create_app()

    _Gunicorn().run()


def cmd_worker(args: argparse.Namespace) -> None:
    from tasks.app import app

    concurrency = args.concurrency or get_settings().worker_concurrency or os.cpu_count() or 1
    argv = ["worker", "-Q", args.queues, "-P", args.pool, "-c", str(concurrency),
            "-n", f"{args.name}@%h", "--loglevel", get_settings().log_level]
    app.worker_main(argv)


def cmd_beat(_args: argparse.Namespace) -> None:
    from tasks.app import app

    get_settings().home.mkdir(parents=True, exist_ok=True)
    app.start(["beat", "--loglevel", get_settings().log_level])


def _admin_token(home: Path) -> str:
    """The local admin key, created on first run and kept in ``<home>/admin.key`` (0600)."""
    from tasks import connections, jobstore

    path = home / "admin.key"
    if path.exists():
        token = path.read_text().strip()
        with connections.transaction() as conn:
            if jobstore.find_api_key(conn, token):
                return token
    with connections.transaction() as conn:
        token, _ = jobstore.create_api_key(conn, "local admin", admin=True, credits=1000)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def cmd_run(args: argparse.Namespace) -> None:
    """API, one worker per queue group and beat, under honcho; embedded defaults."""
    from honcho.manager import Manager
    from honcho.printer import Printer

    settings = get_settings()
    cmd_migrate(args)
    token = _admin_token(settings.home)
    url = f"http://{args.host}:{args.port}"
    env = {**os.environ, "MESHMILL_PUBLIC_URL": os.environ.get("MESHMILL_PUBLIC_URL", url)}
    me = f"{shlex.quote(sys.executable)} -m api.cli"
    cpu = settings.worker_concurrency or os.cpu_count() or 1
    manager = Manager(Printer(sys.stdout))
    manager.add_process("api", f"{me} api --host {args.host} --port {args.port}", env=env)
    manager.add_process("cpu", f"{me} worker -q mesh,cad,contour -P prefork -c {cpu} -n cpu", env=env)
    manager.add_process("io", f"{me} worker -q generate,webhooks,maintenance -P threads -c 8 -n io", env=env)
    manager.add_process("beat", f"{me} beat", env=env)
    print(f"\nMeshmill is starting at {url}\n  admin API key: {token}\n  docs: {url}/docs\n  try:\n"
          f"    curl -H 'Authorization: Bearer {token}' -F file=@tests/data/sample_cube.stl "
          f"{url}/api/v1/mesh/analyze\n", flush=True)
    manager.loop()
    sys.exit(manager.returncode)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meshmill", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key (the token is shown once)")
    create.add_argument("--name", default="cli")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--credits", type=int, default=0)
    create.add_argument("--migrate", action="store_true", help="apply migrations first")
    create.set_defaults(fn=cmd_keys_create)
    for name, fn in (("api", cmd_api), ("run", cmd_run)):
        p = sub.add_parser(name, help=f"start {'the API' if name == 'api' else 'everything'}")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=get_settings().api_workers or max(2, os.cpu_count() or 1))
        p.add_argument("--threads", type=int, default=get_settings().api_threads)
        p.set_defaults(fn=fn)
    worker = sub.add_parser("worker", help="start a Celery worker")
    worker.add_argument("-q", "--queues", default="mesh,cad,contour,generate,webhooks,maintenance")
    worker.add_argument("-P", "--pool", default="prefork", choices=["prefork", "threads", "solo"])
    worker.add_argument("-c", "--concurrency", type=int, default=0)
    worker.add_argument("-n", "--name", default="worker")
    worker.set_defaults(fn=cmd_worker)
    sub.add_parser("beat", help="start Celery beat (sweeps, re-drives)").set_defaults(fn=cmd_beat)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
