"""Write-behind of a step's success in a prefork child: the child takes its next job while the
last one's outcome commits.

A short job's cycle in a prefork child is: wait for the parent's next message, claim, run,
write the outcome. The outcome is the slowest database write of a job (the row, the held
progress events and the success event, flushed to the WAL), and the child did nothing while
it ran: about a third of a small job's cycle under load. Here one thread per child writes
it while the task returns and Celery hands the child its next message.

The job row stays the source of truth. The message is acked once the task returns, before
the outcome commits; if the child dies in between, the job is still ``running`` under this
child's lease, so the sweeper sends it again when the lease expires, as for any lost worker.
At most one outcome is in flight per child (the next one waits for it), so an outcome is
never queued behind others for long. A transient database error is retried here a few
times, then left to the same sweeper.

It is off unless ``enable()`` is called (Celery's ``worker_process_init``, i.e. in prefork
children); elsewhere ``submit`` runs the write at once.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy.exc
import structlog

from tasks.jobstore import IllegalTransition

log = structlog.get_logger(__name__)

RETRIES = 3
RETRY_DELAY_S = 0.2
_TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, ConnectionError, TimeoutError)


class OutcomeWriter:
    """One background writer per process; see the module docstring."""

    def __init__(self) -> None:
        self.enabled = False
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._pending: Future | None = None

    def enable(self) -> None:
        self.enabled = True

    def submit(self, write: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``write(*args, **kwargs)``: in the background when enabled, else now."""
        if not self.enabled:
            write(*args, **kwargs)
            return
        self.wait()
        context = contextvars.copy_context()  # the job's log bindings
        self._pending = self._pool().submit(context.run, _write_with_retries, write, args, kwargs)

    def wait(self) -> None:
        """Block until the outcome in flight (if any) has been written or given up."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None or self._pid != os.getpid():  # a forked child makes its own
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outcome-writer")
            self._pid = os.getpid()
            self._pending = None
        return self._executor


def _write_with_retries(write: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> None:
    """Never raises: a refused outcome is logged, a failed one is left to the lease sweeper."""
    for attempt in range(1, RETRIES + 1):
        try:
            write(*args, **kwargs)
            return
        except IllegalTransition as exc:  # canceled or taken over meanwhile: nothing to write
            log.info("outcome.refused", reason=str(exc))
            return
        except _TRANSIENT as exc:
            if attempt == RETRIES:
                log.error("outcome.write_failed", error=str(exc), attempts=attempt,
                          recovery="the sweeper re-sends the job when its lease expires")
                return
            time.sleep(RETRY_DELAY_S * attempt)
        except Exception:
            log.exception("outcome.write_crashed", recovery="the sweeper re-sends the job when its lease expires")
            return


writer = OutcomeWriter()
