"""The progress callback type every pipeline accepts."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(pct, message)``: pct is 0-100 and only increases."""

    def __call__(self, pct: int, message: str) -> None: ...


def no_progress(pct: int, message: str) -> None:
    """A progress callback that ignores reports (plain shell use)."""


def scaled(progress: Progress, start: int, end: int) -> Progress:
    """Map a sub-step's 0-100 onto ``start..end`` of the parent's range."""

    def report(pct: int, message: str) -> None:
        progress(start + (end - start) * max(0, min(100, pct)) // 100, message)

    return report
