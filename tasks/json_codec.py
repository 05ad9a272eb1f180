"""JSON for what jobs write: artifacts and the job table's JSON columns (orjson).

Pipelines return numpy arrays (a sprite mesh's vertices, triangles, uvs and edges); orjson writes
them as nested JSON arrays without the Python lists ``tolist`` would build, and writes Python
values several times faster than ``json`` (the fantasy UI sheet's result and Spine attachment,
270 KB: 5.7 ms with ``json.dumps`` over lists, see ``make bench-contour``'s ``output_ms``).

Floats are written shortest-round-trip, as ``json`` does (``5e-6`` where ``json`` writes
``5e-06``); NaN and infinity as ``null`` (``json`` writes ``NaN``, which no JSON parser takes);
non-string keys as strings. What orjson cannot write (integers past 64 bits) goes through
``json``, so no value ``json.dumps`` took is refused. Reading stays with ``json``: orjson reads
an integer past 64 bits as a float, silently.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    """What orjson leaves to ``default``: arrays it cannot take as they are, numpy scalars."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON of ``value`` (numpy arrays as nested arrays)."""
    try:
        return orjson.dumps(value, default=_fallback, option=OPTIONS)
    except orjson.JSONEncodeError:  # an integer past 64 bits; json writes it
        return json.dumps(value, default=_fallback, separators=(",", ":")).encode()


def to_json_text(value: Any) -> str:
    """``to_json`` as text (SQLAlchemy's ``json_serializer``)."""
    return to_json(value).decode()
