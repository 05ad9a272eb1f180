"""What a worker does once at start-up, before its pool forks."""

from __future__ import annotations

import gc

from tasks import app as app_module


def test_worker_init_freezes_startup_objects() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        app_module._freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the imported modules, app and task classes
        assert len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()
