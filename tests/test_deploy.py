"""The deployment files parse and agree with the code (there is no Docker engine to run them here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from celeryconfig import CPU_QUEUES, IO_QUEUES

REPO = Path(__file__).resolve().parents[1]


def test_compose_services_cover_every_queue():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "minio", "api", "worker-cpu", "worker-io", "beat", "flower"} <= set(services)
    consumed = set()
    for service in services.values():
        command = service.get("command", [])
        if "worker" in command:
            consumed |= set(command[command.index("-q") + 1].split(","))
    assert consumed == set(CPU_QUEUES) | set(IO_QUEUES)
    env = services["api"]["environment"]
    assert env["MESHMILL_BROKER_URL"].startswith("redis://") and env["MESHMILL_STORAGE_URL"].startswith("s3://")


def test_procfile_names_real_commands():
    lines = [line.split(":", 1) for line in (REPO / "deploy" / "Procfile").read_text().splitlines() if line]
    commands = {name: cmd.split() for name, cmd in lines}
    assert commands["api"][:2] == ["meshmill", "api"] and commands["beat"][:2] == ["meshmill", "beat"]
    queues = set()
    for cmd in commands.values():
        if "-q" in cmd:
            queues |= set(cmd[cmd.index("-q") + 1].split(","))
    assert queues == set(CPU_QUEUES) | set(IO_QUEUES)
