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



HEAP_PROBE = """
import os, sys
import numpy as np
from tasks.memory import keep_heap
if sys.argv[1] == "keep":
    assert keep_heap()
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
for mib in (8, 40):
    before = resident()
    block = np.ones(mib << 20, np.uint8)  # every page touched
    del block
    print((resident() - before) / 2**20)
"""


def held_after_free(mode: str) -> list[float]:
    """MiB still resident in a fresh process after making and freeing an 8 MiB array, then a 40 MiB one."""
    out = subprocess.run([sys.executable, "-c", HEAP_PROBE, mode], check=True, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=60).stdout
    return [float(line) for line in out.split()]


def test_a_worker_keeps_the_pages_of_a_freed_large_array_for_the_next_job() -> None:
    assert app_module._keep_heap in signals.worker_init._live_receivers(None)
    small, large = held_after_free("keep")
    assert small >= 7.5  # the heap kept them: the next array of that size reuses the pages
    assert large < 1.0  # past MMAP_THRESHOLD a block is still given back when freed
    assert held_after_free("default")[0] < 1.0  # glibc alone gave the first one back
