"""werkzeug's multipart decoder, without compiling two regular expressions per upload.

``werkzeug.sansio.multipart.MultipartDecoder`` builds its preamble and boundary patterns
with the request's boundary spliced in, so every upload from a client that draws a
random boundary (httpx, requests, curl, browsers) pays ~0.65 ms of CPU in ``re``'s
parser: a tenth of the API's work per job. Here the boundary is found with
``bytes.find`` and only the part after it (``--`` epilogue marker, whitespace, line
break) is matched, by one pattern compiled once. The decoder's state machine is
werkzeug's own; the searches answer exactly what its patterns did, which
``tests/test_multipart.py`` checks against werkzeug on generated bodies.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import werkzeug.formparser
from werkzeug.sansio import multipart

LINE_BREAKS = (b"\r\n", b"\n", b"\r")
# what follows a boundary: the epilogue's "--" (then a line break or the end), or a line break
AFTER_BOUNDARY = re.compile(rb"(--[^\S\n\r]*(?:\r\n|\n|\r)?|[^\S\n\r]*(?:\r\n|\n|\r))")


class BoundaryMatch:
    """The part of ``re.Match`` that the decoder reads."""

    __slots__ = ("_after", "_end", "_start")

    def __init__(self, start: int, end: int, after: bytes) -> None:
        self._start, self._end, self._after = start, end, after

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, index: int) -> bytes:
        if index != 1:
            raise IndexError(index)
        return self._after


class BoundarySearch:
    """``(line break)--boundary`` plus what follows it, as werkzeug's compiled patterns match it."""

    def __init__(self, boundary: bytes, *, line_break_required: bool) -> None:
        self.marker = b"--" + boundary
        self.line_break_required = line_break_required

    def search(self, data: bytes | bytearray, pos: int = 0) -> BoundaryMatch | None:
        at = data.find(self.marker, pos)
        while at != -1:
            start = self._start(data, at, pos)
            if start is not None:
                after = AFTER_BOUNDARY.match(data, at + len(self.marker))
                if after is not None:
                    return BoundaryMatch(start, after.end(), after.group(1))
            at = data.find(self.marker, at + 1)
        return None

    def _start(self, data: bytes | bytearray, at: int, pos: int) -> int | None:
        """Where a match through the marker at ``at`` begins: its line break, if one precedes."""
        for line_break in LINE_BREAKS:
            begin = at - len(line_break)
            if begin >= pos and data[begin:at] == line_break:
                return begin
        return None if self.line_break_required else at


class MultipartDecoder(multipart.MultipartDecoder):
    """werkzeug's decoder with :class:`BoundarySearch` in place of its per-boundary patterns."""

    def __init__(self, boundary: bytes, max_form_memory_size: int | None = None, *,
                 max_parts: int | None = None) -> None:
        # werkzeug 3.1's own set-up, less the two re.compile calls
        self.buffer = bytearray()
        self.complete = False
        self.max_form_memory_size = max_form_memory_size
        self.max_parts = max_parts
        self.state = multipart.State.PREAMBLE
        self.boundary = boundary
        self.preamble_re = BoundarySearch(boundary, line_break_required=False)
        self.boundary_re = BoundarySearch(boundary, line_break_required=True)
        self._search_position = 0
        self._parts_decoded = 0


CHECKED_ON = "3.1."  # werkzeug releases whose decoder set-up this copies


def install(werkzeug_version: str | None = None) -> bool:
    """Make werkzeug's form parser use this decoder; only on the werkzeug it was checked on."""
    if not (werkzeug_version or version("werkzeug")).startswith(CHECKED_ON):
        return False
    werkzeug.formparser.MultipartDecoder = MultipartDecoder
    return True
