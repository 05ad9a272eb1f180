"""One heartbeat thread per worker process, shared by every step that process runs.

A thread started and joined per step cost each job about a millisecond of thread
start-up, wake-up and join on the hot path; a step that ends within its first
interval never needed a beat at all. Here a daemon thread, started on first use in
each process (so after a prefork child is forked), wakes every half interval and calls
``beat()`` on each watched step whose last beat is an interval old.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol


class Beating(Protocol):
    def beat(self) -> bool:
        """Renew the step's lease; False when it must not be renewed again."""
        ...


class Heartbeat:
    """Calls ``beat()`` on watched steps every ``interval`` seconds until released."""

    def __init__(self, interval: float):
        self.interval = interval
        self._cond = threading.Condition()
        self._busy = threading.Lock()  # held while beating: release() waits for an in-flight beat
        self._steps: dict[int, tuple[Beating, float]] = {}  # id -> (step, monotonic time of its last beat)
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, step: Beating) -> None:
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)
                self._thread.start()
            self._steps[id(step)] = (step, time.monotonic())
            self._cond.notify()

    def release(self, step: Beating) -> None:
        """Stop beating for ``step``; when this returns, no beat for it is in flight or will start."""
        with self._busy, self._cond:
            self._steps.pop(id(step), None)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._steps)
            time.sleep(self.interval / 2)
            with self._busy:
                self._beat_due()

    def _beat_due(self) -> None:
        now = time.monotonic()
        with self._cond:
            due = [(key, step) for key, (step, last) in self._steps.items() if now - last >= self.interval]
        for key, step in due:
            keep = step.beat()
            with self._cond:
                if key not in self._steps:
                    continue
                if keep:
                    self._steps[key] = (step, time.monotonic())
                else:
                    del self._steps[key]
