"""The one family of errors every pipeline raises.

The kind of error decides what the platform does with the job:

- ``InputError``: the input or parameters are bad; the job fails at once, never retried.
- ``TooComplexError``: the input is valid but over a size or time guard; fails at once.
- ``RemoteError``: a remote service or network hiccup; retried with backoff, then dead-lettered.
- ``DependencyError``: a model, library or dependency is broken; dead-lettered for operators.
"""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Base error: an UPPER_SNAKE ``code``, a human ``message`` and JSON-able ``details``."""

    kind = "systemic"

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by state, not by ``__init__``'s arguments (``args`` holds only the joined text, and
        subclasses may take other arguments): Celery's prefork pool and retries pickle exceptions."""
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[PipelineError], args: tuple[Any, ...], state: dict[str, Any]) -> PipelineError:
    """A pickled ``PipelineError`` again, without calling its ``__init__``."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InputError(PipelineError):
    """Bad, corrupt, empty or unsupported input: permanent."""

    kind = "permanent"


class TooComplexError(InputError):
    """Input over a triangle-count, size or time guard: permanent."""


class RemoteError(PipelineError):
    """A remote call failed in a way that may pass: transient."""

    kind = "transient"


class DependencyError(PipelineError):
    """A model or library is broken or missing: systemic."""

    kind = "systemic"
