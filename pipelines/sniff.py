"""Cheap format sniffing by content (magic bytes), never by file name.

The API calls this on the first few KiB of an upload; no geometry is parsed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from pipelines.limits import LIMITS

SNIFF_BYTES = 4096
THREEMF_MODEL = "3d/3dmodel.model"  # the model part of a 3MF package, lower-cased

MESH_FORMATS = frozenset({"stl", "obj", "ply", "off", "3mf", "glb"})
CAD_FORMATS = frozenset({"step"})
IMAGE_FORMATS = frozenset({"png", "jpeg", "webp", "gif", "bmp"})


def sniff(head: bytes, total_size: int | None = None) -> str | None:
    """Return a format name for the first bytes of a file, or None when unknown.

    ``total_size`` lets binary STL be recognised by its exact length
    (84 + 50 * triangle count), which is the only reliable signature it has.
    """
    if not head:
        return None
    for name, test in _MAGIC:
        if test(head):
            return name
    if total_size is not None and _is_binary_stl(head, total_size):
        return "stl"
    return _sniff_text(head)


def zip_kind(names: Iterable[str]) -> str:
    """``3mf`` for a zip whose central directory lists the 3MF model part, else ``zip``."""
    return "3mf" if THREEMF_MODEL in {n.lower().lstrip("/") for n in names} else "zip"


def _is_binary_stl(head: bytes, total_size: int) -> bool:
    """Exact binary STL length, or a truncated one: a plausible count the file is too short for.

    A truncated STL is still an STL, so the loader can say "truncated" rather than
    "unsupported format".
    """
    if len(head) < 84:
        return False
    (count,) = struct.unpack_from("<I", head, 80)
    if total_size == 84 + 50 * count:
        return True
    return total_size >= 84 + 50 and 0 < count <= LIMITS.max_triangles and 84 + 50 * count > total_size


_MAGIC: tuple[tuple[str, object], ...] = (
    ("glb", lambda h: h[:4] == b"glTF"),
    ("png", lambda h: h[:8] == b"\x89PNG\r\n\x1a\n"),
    ("jpeg", lambda h: h[:3] == b"\xff\xd8\xff"),
    ("gif", lambda h: h[:6] in (b"GIF87a", b"GIF89a")),
    ("webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    ("bmp", lambda h: h[:2] == b"BM" and len(h) >= 26),
    ("zip", lambda h: h[:4] == b"PK\x03\x04"),
    ("ply", lambda h: h[:4] == b"ply\n" or h[:5] == b"ply\r\n"),
)


def _sniff_text(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        # a truncated multi-byte char at the end of the window is fine
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    stripped = text.lstrip("\ufeff \t\r\n")
    if _skip_c_comments(stripped)[:64].upper().startswith("ISO-10303-21"):
        return "step"
    if stripped.startswith(("OFF", "COFF", "NOFF", "STOFF")) and stripped[:6].split()[0].endswith("OFF"):
        return "off"
    if stripped.lower().startswith("solid") and "facet" in stripped.lower():
        return "stl"
    if _looks_like_obj(stripped):
        return "obj"
    return None


def _skip_c_comments(text: str) -> str:
    """The text after any leading ``/* ... */`` comments and whitespace (STEP allows them first)."""
    while text.startswith("/*"):
        end = text.find("*/", 2)
        if end < 0:
            return ""
        text = text[end + 2:].lstrip(" \t\r\n")
    return text


def _looks_like_obj(text: str) -> bool:
    keys = {"v", "vn", "vt", "f", "o", "g", "mtllib", "usemtl", "s", "l"}
    seen_vertex = False
    lines = [ln.strip() for ln in text.splitlines()[:-1] or text.splitlines()]
    for line in lines:
        if not line or line.startswith("#"):
            continue
        word = line.split(None, 1)[0]
        if word not in keys:
            return False
        seen_vertex = seen_vertex or word == "v"
    return seen_vertex
