"""Write-behind of a step's success in a prefork child: the child takes its next job while the
last one's outcome commits.

A short job's cycle in a prefork child is: wait for the parent's next message, claim, run,
write the outcome. The outcome is the slowest database write of a job (the row, the held
progress events and the success event, flushed to the WAL), and the child did nothing while
it ran: about a third of a small job's cycle under load. Here one thread per child writes
it while the task returns and Celery hands the child its next message.

The job row stays the source of truth. The message is acked once the task returns, before
the outcome commits, so an outcome is never given up while its process lives:

- a transient database error is retried, with backoff, until it lands. At most one outcome
  is in flight per child (the next one waits for it), so a child that cannot reach the
  database stops producing outcomes instead of piling them up;
- a refused outcome (the job was canceled or taken over meanwhile) is dropped;
- anything else is a bug: ``on_crash`` dead-letters the job, as a crashing step would be;
- if the child dies first, the job is still ``running`` under the dead child's lease, and
  the sweeper re-sends it, as for any killed worker.

It is off unless ``enable()`` is called (Celery's ``worker_process_init``, i.e. in prefork
children); elsewhere ``submit`` writes at once and errors reach the caller.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import structlog

from tasks.connections import TRANSIENT_DB_ERRORS
from tasks.jobstore import IllegalTransition

log = structlog.get_logger(__name__)

RETRY_DELAY_S = 0.2
MAX_RETRY_DELAY_S = 30.0
_TRANSIENT = (*TRANSIENT_DB_ERRORS, ConnectionError, TimeoutError)

Write = Callable[[], Any]
OnCrash = Callable[[BaseException], Any]


class OutcomeWriter:
    """One background writer per process; see the module docstring."""

    def __init__(self) -> None:
        self.enabled = False
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._pending: Future | None = None

    def enable(self) -> None:
        self.enabled = True

    def submit(self, write: Write, on_crash: OnCrash | None = None) -> None:
        """Run ``write()``: in the background when enabled (after the one in flight), else now."""
        if not self.enabled:
            write()
            return
        self.wait()
        context = contextvars.copy_context()  # the job's log bindings
        self._pending = self._pool().submit(context.run, _write_until_done, write, on_crash)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the outcome in flight (if any) is written or dropped; False on timeout."""
        pending = self._pending
        if pending is None:
            return True
        try:
            pending.result(timeout)
        except FutureTimeout:
            return False
        self._pending = None
        return True

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None or self._pid != os.getpid():  # a forked child makes its own
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outcome-writer")
            self._pid = os.getpid()
            self._pending = None
        return self._executor


def _write_until_done(write: Write, on_crash: OnCrash | None) -> None:
    """Never raises; see the module docstring for what each failure means."""
    delay = RETRY_DELAY_S
    while True:
        try:
            write()
            return
        except IllegalTransition as exc:
            log.info("outcome.refused", reason=str(exc))
            return
        except _TRANSIENT as exc:
            log.warning("outcome.retrying", error=str(exc), in_s=delay)
            time.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY_S)
        except Exception as exc:
            log.exception("outcome.crashed")
            if on_crash is not None:
                try:
                    on_crash(exc)
                except Exception:
                    log.exception("outcome.crash_handler_failed")
            return


writer = OutcomeWriter()
