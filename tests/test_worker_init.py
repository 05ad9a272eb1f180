"""What a worker does once at start-up, before its pool forks."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from celery import signals

from tasks import app as app_module
from tasks import contour as contour_tasks


def test_worker_init_freezes_startup_objects() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        app_module._freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the imported modules, app and task classes
        assert len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()


def test_worker_init_compiles_the_contour_kernels_only_where_sprites_are_meshed() -> None:
    assert contour_tasks._compile_kernels in signals.worker_init._live_receivers(None)
    # in a fresh process: importing every task module brings no numba (the io worker, beat); a
    # worker on other queues skips the kernels; one on the contour queue compiles them all
    code = """
import importlib, sys
from types import SimpleNamespace
from tasks.app import app
for module in app.conf.include:
    importlib.import_module(module)
assert "numba" not in sys.modules
from tasks import contour
app.amqp.queues.select(["generate", "webhooks"])
contour._compile_kernels(sender=SimpleNamespace(app=app))
assert "numba" not in sys.modules
app.amqp.queues.select(["mesh", "cad", "contour"])
contour._compile_kernels(sender=SimpleNamespace(app=app))
from pipelines import contour_kernels as k
assert all(kernel.signatures for kernel in (k.offset_rings, k.drop_repeats, k.crossing_edges, k.optimal_smoothing))
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1], timeout=120)


def test_forking_freezes_what_worker_init_made_after_the_first_freeze() -> None:
    gc.unfreeze()
    try:
        app_module._freeze_startup_objects()
        frozen = gc.get_freeze_count()
        made = [[i] for i in range(1000)]  # tracked containers, as compiling makes
        signals.worker_before_create_process.send(sender=None)
        assert gc.get_freeze_count() >= frozen + len(made)
    finally:
        gc.unfreeze()
