"""Reading and writing triangle meshes: bytes in, one ``trimesh.Trimesh`` out, and back.

Holds the format resolution (content sniffing, 3MF inside a zip), the cheap guards run
before parsing (triangle counts from headers, zip-bomb checks on 3MF), the parse itself
with every trimesh exception turned into an ``InputError``, and the exporters.

Loading keeps what repair needs: no processing, no face removal, only duplicate vertex
positions are merged (equal at trimesh's merge precision, whatever their UVs or normals) so
edges are shared and topology means something (STL stores three private vertices per
triangle; UV and normal seams split OBJ, PLY and GLB vertices). Coordinates too large for
that precision (float32-max slabs) are merged only where exactly equal, rather than
overflowing into one vertex. OBJ relative (negative) indices are read. Scenes (GLB, 3MF,
multi-object OBJ) are flattened into one mesh with every node's transform applied; visuals
are dropped.

Non-finite coordinates (NaN, inf) on a vertex used by a face are a ``MESH_PARSE_ERROR``:
no honest volume or repair can come out of them. Unused non-finite vertices are dropped.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from typing import Any

import numpy as np
import trimesh
from trimesh.exchange import stl as stl_exchange

from pipelines.errors import InputError, TooComplexError
from pipelines.limits import LIMITS, Limits
from pipelines.sniff import SNIFF_BYTES, sniff, zip_kind

LOAD_FORMATS = ("stl", "obj", "ply", "off", "3mf", "glb")
EXPORT_FORMATS = ("stl", "obj", "ply", "off", "3mf", "glb")

FORMAT_MEDIA_TYPES: dict[str, str] = {
    "stl": "model/stl",
    "obj": "model/obj",
    "ply": "application/x-ply",
    "off": "application/x-off",
    "3mf": "model/3mf",
    "glb": "model/gltf-binary",
}

_READ_CHUNK = 1 << 20
_SMALL_ARCHIVE = 1 << 20  # below this many declared bytes the ratio check is moot


def load_mesh(data: bytes, fmt: str | None = None, *, limits: Limits = LIMITS) -> trimesh.Trimesh:
    """Parse ``data`` (format ``fmt`` or sniffed) into one mesh with merged vertex positions."""
    fmt = resolve_format(data, fmt, limits=limits)
    _precheck_counts(data, fmt, limits)
    if fmt == "3mf":
        data = _safe_3mf(data, limits)
    loaded = _parse(data, fmt)
    vertices, faces = _flatten(loaded, fmt)
    _check_faces(vertices, faces, fmt, limits)
    vertices, faces = _drop_unused_nonfinite(vertices, faces, fmt)
    return _merge_positions(vertices, faces)


def _merge_positions(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """One mesh with vertices at equal positions merged, as ``Trimesh.merge_vertices`` does it:
    positions rounded to ``trimesh.tol.merge``, referenced vertices only, kept in the order they
    first appear. Done on the arrays, so the Trimesh is built once (merging a built one costs
    ~0.4 ms of fixed overhead, a third of a small mesh's analysis). Coordinates so large that
    rounding them would overflow int64 (into one vertex) are compared exactly."""
    used = np.flatnonzero(np.bincount(faces.ravel(), minlength=len(vertices)))
    points = vertices[used]
    digits = trimesh.util.decimal_to_digits(trimesh.tol.merge)
    if float(np.abs(points).max(initial=0.0)) * 10.0**digits < 2.0**62:
        keys = (points * 10**digits).round().astype(np.int64)
        first, inverse = trimesh.grouping.unique_rows(keys, keep_order=True)
    else:
        _, first, inverse = np.unique(points, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first)  # first appearance order, as keep_order gives
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        first, inverse = first[order], rank[inverse.ravel()]
    remap = np.zeros(len(vertices), dtype=np.int64)
    remap[used] = inverse
    return trimesh.Trimesh(points[first], remap[faces], process=False)


def resolve_format(data: bytes, fmt: str | None = None, *, limits: Limits = LIMITS) -> str:
    """Return the mesh format of ``data``: ``fmt`` checked, or sniffed from content."""
    if not data:
        raise InputError("MESH_EMPTY", "The file is empty.", {"format": fmt})
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt not in LOAD_FORMATS:
            raise InputError(
                "MESH_UNSUPPORTED_FORMAT", f"Unsupported mesh format {fmt!r}.",
                {"format": fmt, "supported": list(LOAD_FORMATS)},
            )
        return fmt
    found = sniff(data[:SNIFF_BYTES], len(data))
    if found == "zip":
        return _zip_kind(data)
    if found not in LOAD_FORMATS:
        raise InputError(
            "MESH_UNSUPPORTED_FORMAT", "The file is not a supported mesh format.",
            {"format": found, "supported": list(LOAD_FORMATS)},
        )
    return found


def export_mesh(mesh: trimesh.Trimesh, fmt: str) -> bytes:
    """Serialise ``mesh`` as ``fmt`` (stl is binary, ply binary, obj/off text)."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise InputError(
            "MESH_UNSUPPORTED_FORMAT", f"Cannot export mesh as {fmt!r}.",
            {"format": fmt, "supported": list(EXPORT_FORMATS)},
        )
    out = mesh.export(file_type=fmt)
    return out.encode("utf-8") if isinstance(out, str) else bytes(out)


def _parse_error(fmt: str, reason: str) -> InputError:
    """Build the one parse error shape."""
    return InputError(
        "MESH_PARSE_ERROR", f"Could not read the {fmt.upper()} file: {reason}",
        {"format": fmt, "reason": reason},
    )


def _too_complex(count: int, limits: Limits) -> TooComplexError:
    """Build the triangle-limit error."""
    return TooComplexError(
        "MESH_TOO_COMPLEX", f"The mesh has {count} triangles, over the limit of {limits.max_triangles}.",
        {"triangles": int(count), "max_triangles": limits.max_triangles},
    )


def _zip_kind(data: bytes) -> str:
    """Return '3mf' when the zip holds a 3MF model part, else refuse it."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _parse_error("3mf", f"corrupt zip archive ({exc})") from exc
    if zip_kind(names) == "3mf":
        return "3mf"
    raise InputError(
        "MESH_UNSUPPORTED_FORMAT", "The zip archive is not a 3MF file (no 3D/3dmodel.model).",
        {"format": "zip", "supported": list(LOAD_FORMATS)},
    )


# --- cheap guards before parsing ---------------------------------------------------------

_PLY_FACES = re.compile(rb"^element\s+face\s+(\d+)", re.MULTILINE)
_OFF_COUNTS = re.compile(rb"^\s*[A-Z]*OFF\s+(?:#[^\n]*\n|\s)*\d+\s+(\d+)")


def _precheck_counts(data: bytes, fmt: str, limits: Limits) -> None:
    """Refuse files whose header or a cheap scan shows too many triangles."""
    count = _cheap_count(data, fmt)
    if count is not None and count > limits.max_triangles:
        raise _too_complex(count, limits)


def _cheap_count(data: bytes, fmt: str) -> int | None:
    """Triangle count (or a lower bound) known without parsing, else None."""
    if fmt == "stl":
        if _is_binary_stl(data):
            return struct.unpack_from("<I", data, 80)[0]
        return data.count(b"endfacet")
    if fmt == "obj":
        return data.count(b"\nf ") + data.startswith(b"f ")
    if fmt == "ply":
        match = _PLY_FACES.search(data[:SNIFF_BYTES])
        return int(match.group(1)) if match else None
    if fmt == "off":
        match = _OFF_COUNTS.match(data[:SNIFF_BYTES])
        return int(match.group(1)) if match else None
    return None


def _is_binary_stl(data: bytes) -> bool:
    """True when ``data`` is not an ASCII STL (binary, possibly with a 'solid' header)."""
    if len(data) >= 84:
        (count,) = struct.unpack_from("<I", data, 80)
        if len(data) == 84 + 50 * count:
            return True
    head = data[:SNIFF_BYTES].lstrip().lower()
    return not (head.startswith(b"solid") and b"facet" in head)


def _safe_3mf(data: bytes, limits: Limits) -> bytes:
    """Check a 3MF zip for bombs, extract it under a byte cap, and repack it uncompressed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _parse_error("3mf", f"corrupt zip archive ({exc})") from exc
    declared = sum(i.file_size for i in infos)
    _check_archive_size(declared, len(data), limits)
    out = io.BytesIO()
    budget = limits.max_archive_bytes
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as packed:
        for info in infos:
            body = _read_capped(archive, info, budget, limits)
            budget -= len(body)
            packed.writestr(info.filename, body)
    return out.getvalue()


def _check_archive_size(declared: int, compressed: int, limits: Limits) -> None:
    """Refuse archives whose declared size or compression ratio is over the limits."""
    ratio = declared / max(compressed, 1)
    if declared > limits.max_archive_bytes or (
        declared > _SMALL_ARCHIVE and ratio > limits.max_archive_ratio
    ):
        raise InputError(
            "ARCHIVE_TOO_LARGE", "The 3MF archive expands to too much data.",
            {"declared_bytes": declared, "compressed_bytes": compressed, "ratio": round(ratio, 1),
             "max_archive_bytes": limits.max_archive_bytes, "max_archive_ratio": limits.max_archive_ratio},
        )


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, limits: Limits) -> bytes:
    """Read one member in chunks, stopping as soon as it passes the remaining byte budget."""
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as src:
            while chunk := src.read(_READ_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise InputError(
                        "ARCHIVE_TOO_LARGE", "The 3MF archive expands to too much data.",
                        {"member": info.filename, "max_archive_bytes": limits.max_archive_bytes},
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise _parse_error("3mf", f"corrupt zip member {info.filename!r} ({exc})") from exc
    return b"".join(chunks)


# --- parsing -----------------------------------------------------------------------------


def _parse(data: bytes, fmt: str) -> Any:
    """Run trimesh's loader with no processing; any failure becomes MESH_PARSE_ERROR."""
    if fmt == "stl" and _is_binary_stl(data):
        _check_binary_stl_length(data)
    try:
        return _trimesh_load(data, fmt, maintain_order=True)
    except InputError:
        raise
    except Exception as exc:  # trimesh raises anything from parsers: wrap it all
        if fmt != "obj":
            raise _parse_error(fmt, _reason(exc)) from exc
        first = exc
    try:  # trimesh's order-keeping OBJ path fails on relative (negative) indices; the other reads them
        return _trimesh_load(data, fmt, maintain_order=False)
    except Exception as exc:
        raise _parse_error(fmt, _reason(first)) from exc


def _trimesh_load(data: bytes, fmt: str, *, maintain_order: bool) -> Any:
    with np.errstate(all="ignore"):
        if fmt == "stl":
            # trimesh's STL parser on its own: ``trimesh.load`` wraps it in a Scene and
            # meshes, ~30x its cost on a small part. Multi-solid ASCII comes back as a
            # ``geometry`` mapping, which the general loader handles.
            parsed = stl_exchange.load_stl(io.BytesIO(data))
            if "faces" in parsed and "vertices" in parsed:
                return parsed
        return trimesh.load(
            file_obj=io.BytesIO(data), file_type=fmt, process=False, validate=False,
            maintain_order=maintain_order, skip_materials=True,
        )


def _check_binary_stl_length(data: bytes) -> None:
    """Refuse a binary STL shorter than its header's triangle count says."""
    if len(data) < 84:
        raise _parse_error("stl", f"binary STL shorter than its 84-byte header ({len(data)} bytes)")
    (count,) = struct.unpack_from("<I", data, 80)
    if len(data) < 84 + 50 * count:
        raise _parse_error(
            "stl", f"binary STL truncated: header declares {count} triangles "
            f"({84 + 50 * count} bytes), file has {len(data)} bytes",
        )


def _reason(exc: BaseException) -> str:
    """A short, single-line description of a parser exception."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _flatten(loaded: Any, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(n, 3) float64`` and faces ``(m, 3) int64`` of a mesh or a whole scene."""
    if isinstance(loaded, trimesh.Scene):
        parts = _scene_parts(loaded)
    elif isinstance(loaded, trimesh.Trimesh):
        parts = [(np.asarray(loaded.vertices, dtype=np.float64), np.asarray(loaded.faces))]
    elif isinstance(loaded, dict):  # a parser's own output (STL)
        parts = [(np.asarray(loaded["vertices"], dtype=np.float64), np.asarray(loaded["faces"]))]
    else:
        parts = []
    parts = [(v, f) for v, f in parts if len(f)]
    if not parts:
        raise InputError("MESH_EMPTY", "The file contains no triangles.", {"format": fmt})
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    vertices = np.vstack([v for v, _ in parts])
    faces = np.vstack([
        np.asarray(f, dtype=np.int64).reshape(-1, 3) + o for (_, f), o in zip(parts, offsets, strict=True)
    ])
    return vertices, faces


def _scene_parts(scene: trimesh.Scene) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each mesh instance of a scene with its node transform applied."""
    parts = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geom = scene.geometry.get(name)
        if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
            vertices = trimesh.transformations.transform_points(
                np.asarray(geom.vertices, dtype=np.float64), transform
            )
            parts.append((vertices, np.asarray(geom.faces)))
    return parts


def _check_faces(vertices: np.ndarray, faces: np.ndarray, fmt: str, limits: Limits) -> None:
    """Refuse face indices out of range and meshes over the triangle limit."""
    if len(faces) > limits.max_triangles:
        raise _too_complex(len(faces), limits)
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise _parse_error(fmt, "faces reference vertices that do not exist")


def _drop_unused_nonfinite(
    vertices: np.ndarray, faces: np.ndarray, fmt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Refuse non-finite vertices used by faces; drop unused ones and reindex faces."""
    bad = ~np.isfinite(vertices).all(axis=1)
    if not bad.any():
        return vertices, faces
    if bad[faces].any():
        raise _parse_error(fmt, f"{int(bad[faces].any(axis=1).sum())} faces use NaN or infinite coordinates")
    keep = ~bad
    remap = np.cumsum(keep) - 1
    return vertices[keep], remap[faces]
