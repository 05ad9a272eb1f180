"""Every Celery setting, in one place, derived from tasks.settings.

Queues: one per domain (CPU-bound, prefork) plus ``generate`` and ``webhooks``
(I/O-bound, threads) and ``maintenance`` (beat's sweeps). Tasks are routed by
name prefix, so a new domain's tasks route themselves by living in
``tasks/<domain>.py``.
"""

from __future__ import annotations

from datetime import timedelta

from kombu import Exchange, Queue
from kombu.transport import TRANSPORT_ALIASES

from tasks.settings import get_settings

_s = get_settings()

CPU_QUEUES = ("mesh", "cad", "contour")
IO_QUEUES = ("generate", "webhooks", "maintenance")

# the embedded broker: kombu's filesystem transport with atomic writes (tasks/fs_transport.py)
TRANSPORT_ALIASES["meshmillfs"] = "tasks.fs_transport:Transport"
broker_url = "meshmillfs://" if _s.embedded_broker else _s.broker
broker_connection_retry_on_startup = True
if _s.embedded_broker:
    for _sub in ("messages", "control"):
        (_s.broker_folder / _sub).mkdir(parents=True, exist_ok=True)
    _folder = str(_s.broker_folder / "messages")
    broker_transport_options = {
        "data_folder_in": _folder,
        "data_folder_out": _folder,
        "control_folder": str(_s.broker_folder / "control"),
        "store_processed": False,
        "polling_interval": 0.02,
    }
else:
    # Redis redelivers unacked messages only after this; keep it above the longest hard limit
    broker_transport_options = {"visibility_timeout": max(3600, _s.hard_time_limit * 2)}
    if _s.broker_prefix:
        broker_transport_options["global_keyprefix"] = _s.broker_prefix
if _s.broker.startswith("redis://"):
    # kombu's Redis transport, reusing its client instead of building one per command
    broker_transport = "tasks.redis_transport:Transport"

# The job row is the source of truth: no result backend.
task_ignore_result = True
result_backend = None

task_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

EXCHANGE = Exchange("meshmill", type="direct")
task_queues = [Queue(name, EXCHANGE, routing_key=name) for name in (*CPU_QUEUES, *IO_QUEUES)]
task_default_queue = "maintenance"
task_default_exchange = "meshmill"
task_default_routing_key = "maintenance"
task_routes = {f"meshmill.{name}.*": {"queue": name, "routing_key": name}
               for name in ("mesh", "cad", "contour", "generate", "webhooks")}
task_routes["meshmill.maintenance.*"] = {"queue": "maintenance", "routing_key": "maintenance"}

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_soft_time_limit = _s.soft_time_limit
task_time_limit = _s.hard_time_limit
worker_max_tasks_per_child = _s.max_tasks_per_child
worker_max_memory_per_child = _s.max_memory_per_child_kb
worker_hijack_root_logger = False
# Monitoring events cost broker round trips on every task; Flower switches them on
# (enable_events) while it runs, so they are off otherwise.
worker_send_task_events = False
task_send_sent_event = False
worker_cancel_long_running_tasks_on_connection_loss = True

beat_schedule = {
    "sweep-leases": {
        "task": "meshmill.maintenance.sweep_leases",
        "schedule": timedelta(seconds=_s.sweep_seconds),
    },
    "redrive-dead-letters": {
        "task": "meshmill.maintenance.redrive_dead_letters",
        "schedule": timedelta(seconds=_s.redrive_seconds),
    },
}
beat_schedule_filename = str(_s.home / "celerybeat-schedule")
