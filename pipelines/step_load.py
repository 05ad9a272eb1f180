"""Read a STEP file from bytes through five validation stages.

Stages, each recorded as ``{stage, ok, code, details}`` and each with its own error codes:

1. ``file``: not empty (``CAD_FILE_EMPTY``), under the size limit (``CAD_FILE_TOO_LARGE``).
2. ``format``: ISO-10303-21 header (``CAD_INVALID_HEADER``), terminated (``CAD_TRUNCATED``),
   a known schema (``CAD_UNSUPPORTED_SCHEMA``; an empty ``FILE_SCHEMA`` is a warning).
3. ``parse``: STEPControl reader status (``CAD_PARSE_FAILED``), transferable roots (``CAD_NO_ROOTS``).
4. ``geometry``: faces present (``CAD_NO_GEOMETRY``), face count under ``max_faces``
   (``TooComplexError`` ``CAD_TOO_COMPLEX``), BRepCheck validity, solids, shells, open shells,
   free faces and free edges, tessellated-only faces (``mesh_only``). Reported, never fatal.
5. ``quality``: a score in 0..1, see :func:`quality_score`.

Lengths come out in millimetres (the reader converts the file's unit).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

import OCP.OCP.collections as occ
from OCP.BRep import BRep_Tool
from OCP.BRepCheck import BRepCheck_Analyzer
from OCP.IFSelect import IFSelect_RetDone
from OCP.Message import Message
from OCP.STEPControl import STEPControl_Reader
from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_SHELL, TopAbs_SOLID
from OCP.TopExp import TopExp, TopExp_Explorer
from OCP.TopoDS import TopoDS, TopoDS_Shape

from pipelines.errors import InputError, TooComplexError

MAX_BYTES = 100 * 2**20
MAX_FACES = 20_000

KNOWN_SCHEMAS = (
    "AUTOMOTIVE_DESIGN", "CONFIG_CONTROL_DESIGN", "CONFIGURATION_CONTROL_3D_DESIGN",
    "AP242_MANAGED_MODEL_BASED", "AP203_CONFIGURATION_CONTROLLED", "STRUCTURAL_ANALYSIS_DESIGN",
    "AP209_MULTIDISCIPLINARY", "CCD_CLA_GVP_AST", "EXPLICIT_DRAUGHTING", "ASSOCIATIVE_DRAUGHTING",
)
UNIT_ALIASES = {"millimetre": "mm", "millimeter": "mm", "metre": "m", "meter": "m", "inches": "inch",
                "feet": "foot", "centimetre": "cm"}
UNIT_NAMES = {".MILLI.": "mm", ".CENTI.": "cm", ".KILO.": "km", ".MICRO.": "um", "$": "m"}

_HEADER = re.compile(rb"^(?:\xef\xbb\xbf)?(?:\s|/\*.*?\*/)*ISO-10303-21\s*;", re.I | re.S)
_END = re.compile(rb"END-ISO-10303-21\s*;\s*$", re.I)
_SCHEMA = re.compile(rb"FILE_SCHEMA\s*\(\s*\((.*?)\)\s*\)\s*;", re.I | re.S)
_SI_LENGTH = re.compile(rb"SI_UNIT\s*\(\s*(\.\w+\.|\$)\s*,\s*\.METRE\.\s*\)", re.I)
_CONV_UNIT = re.compile(rb"CONVERSION_BASED_UNIT\s*\(\s*'([^']*)'", re.I)


@dataclass
class LoadedStep:
    """A transferred STEP shape, its faces in index order and the validation record."""

    shape: TopoDS_Shape
    faces: list  # TopoDS_Face in first-seen TopExp order, IsSame repeats removed
    stages: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def silence_occt() -> None:
    """Remove OCCT's default message printers so nothing is written to stdout."""
    Message.DefaultMessenger_s().ChangePrinters().Clear()


def load_step(data: bytes, *, max_bytes: int = MAX_BYTES, max_faces: int = MAX_FACES) -> LoadedStep:
    """Validate and transfer a STEP file; raise InputError with the failing stage's code."""
    silence_occt()
    stages: list[dict[str, Any]] = []
    _run(stages, "file", check_file, data, max_bytes)
    header = _run(stages, "format", check_format, data)
    shape, parse = _run(stages, "parse", parse_step, data)
    geom = _run(stages, "geometry", check_geometry, shape, max_faces)
    faces = geom.pop("_faces")
    info = {**header, **parse, **geom}
    score = quality_score(info)
    stages.append({"stage": "quality", "ok": True, "code": None, "details": {"quality_score": score}})
    info["quality_score"] = score
    return LoadedStep(shape=shape, faces=faces, stages=stages, info=info)


def _run(stages: list[dict[str, Any]], name: str, check: Any, *args: Any) -> Any:
    """Run one stage, append its record, re-raise its error with all records attached."""
    try:
        out = check(*args)
    except InputError as exc:
        stages.append({"stage": name, "ok": False, "code": exc.code, "details": exc.details})
        exc.details = {**exc.details, "stage": name, "stages": list(stages)}
        raise
    details = out[1] if name == "parse" else out
    shown = {k: v for k, v in details.items() if not k.startswith("_")}
    stages.append({"stage": name, "ok": True, "code": None, "details": shown})
    return out


def check_file(data: bytes, max_bytes: int) -> dict[str, Any]:
    """Stage 1: the bytes exist and are under the size limit."""
    if not data:
        raise InputError("CAD_FILE_EMPTY", "the file is empty")
    if len(data) > max_bytes:
        raise InputError("CAD_FILE_TOO_LARGE", f"the file is over {max_bytes} bytes",
                         {"bytes": len(data), "max_bytes": max_bytes})
    return {"bytes": len(data)}


def check_format(data: bytes) -> dict[str, Any]:
    """Stage 2: ISO-10303-21 header, terminator and a known schema."""
    if not _HEADER.match(data[:4096]):
        raise InputError("CAD_INVALID_HEADER", "not an ISO-10303-21 (STEP) file")
    if not _END.search(data[-256:]):
        raise InputError("CAD_TRUNCATED", "the file ends before END-ISO-10303-21;")
    match = _SCHEMA.search(data[:65536])
    if match is None:
        raise InputError("CAD_INVALID_HEADER", "the header has no FILE_SCHEMA")
    schema = match.group(1).decode("latin-1").strip().strip("'").strip()
    warnings = []
    if not schema:
        warnings.append("empty FILE_SCHEMA; read as a generic AP214/AP203 file")
    elif not any(k in schema.upper() for k in KNOWN_SCHEMAS):
        raise InputError("CAD_UNSUPPORTED_SCHEMA", f"unsupported STEP schema {schema!r}",
                         {"schema": schema})
    return {"schema": schema, "units": file_units(data), "is_assembly": b"NEXT_ASSEMBLY_USAGE" in data.upper(),
            "warnings": warnings}


def file_units(data: bytes) -> str:
    """The file's declared length unit (the reader converts lengths to mm regardless)."""
    for conv in _CONV_UNIT.finditer(data):
        name = conv.group(1).decode("latin-1").lower()
        if name and not name.startswith(("deg", "rad", "ster")):
            return UNIT_ALIASES.get(name, name)
    si = _SI_LENGTH.search(data)
    if si:
        return UNIT_NAMES.get(si.group(1).decode().upper(), "unknown")
    return "unknown"


def parse_step(data: bytes) -> tuple[TopoDS_Shape, dict[str, Any]]:
    """Stage 3: read with STEPControl_Reader and transfer every root."""
    reader = STEPControl_Reader()
    fd, path = tempfile.mkstemp(suffix=".step")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        status = reader.ReadFile(path)
    finally:
        os.unlink(path)
    if status != IFSelect_RetDone:
        raise InputError("CAD_PARSE_FAILED", "the STEP reader could not parse the file",
                         {"status": str(status)})
    roots = reader.NbRootsForTransfer()
    if roots == 0:
        raise InputError("CAD_NO_ROOTS", "the file has no transferable shape roots")
    reader.TransferRoots()
    shape = reader.OneShape()
    return shape, {"roots": roots, "transferred": reader.NbShapes()}


def shape_map(shape: TopoDS_Shape, kind: Any) -> Any:
    """Sub-shapes of ``kind`` in first-seen TopExp order, IsSame repeats removed (1-based map)."""
    found = occ.IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher()
    if not shape.IsNull():
        TopExp.MapShapes_s(shape, kind, found)
    return found


def face_list(shape: TopoDS_Shape) -> list:
    """Faces in the project's face-index order."""
    found = shape_map(shape, TopAbs_FACE)
    return [TopoDS.Face(found.FindKey(i)) for i in range(1, found.Size() + 1)]


def check_geometry(shape: TopoDS_Shape, max_faces: int) -> dict[str, Any]:
    """Stage 4: faces present and countable; validity, closure and solids measured."""
    if shape is None or shape.IsNull():
        raise InputError("CAD_NO_GEOMETRY", "no shape was transferred from the file")
    faces = face_list(shape)
    if not faces:
        edges = shape_map(shape, TopAbs_EDGE).Size()
        raise InputError("CAD_NO_GEOMETRY", "the file holds no faces (wireframe or points only)",
                         {"edges": edges})
    if len(faces) > max_faces:
        raise TooComplexError("CAD_TOO_COMPLEX", f"{len(faces)} faces is over the limit of {max_faces}",
                              {"faces": len(faces), "max_faces": max_faces})
    return {**topology_counts(shape, faces), "valid": is_valid(shape), "_faces": faces}


def is_valid(shape: TopoDS_Shape) -> bool:
    """BRepCheck validity, False when the checker itself fails."""
    try:
        return bool(BRepCheck_Analyzer(shape).IsValid())
    except Exception:  # OCCT raises Standard_Failure on some broken shapes
        return False


def topology_counts(shape: TopoDS_Shape, faces: list) -> dict[str, Any]:
    """Solids, shells, open shells, free faces, free and small edges, tessellated-only faces."""
    solids = shape_map(shape, TopAbs_SOLID).Size()
    shells = shape_map(shape, TopAbs_SHELL)
    in_solids = occ.IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher()
    in_shells = occ.IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher()
    exp = TopExp_Explorer(shape, TopAbs_SOLID)
    while exp.More():
        TopExp.MapShapes_s(exp.Current(), TopAbs_SHELL, in_solids)
        exp.Next()
    open_shells = 0
    for i in range(1, shells.Size() + 1):
        shell = shells.FindKey(i)
        TopExp.MapShapes_s(shell, TopAbs_FACE, in_shells)
        open_shells += free_edge_count(shell) > 0
    no_surface = sum(BRep_Tool.Surface_s(f) is None for f in faces) if faces else 0
    edges = shape_map(shape, TopAbs_EDGE).Size()
    return {
        "solids": solids, "shells": shells.Size(), "faces": len(faces), "edges": edges,
        "free_shells": shells.Size() - in_solids.Size(), "open_shells": int(open_shells),
        "free_faces": len(faces) - in_shells.Size(), "free_edges": free_edge_count(shape),
        "faces_without_surface": int(no_surface), "mesh_only": no_surface == len(faces),
    }


def free_edge_count(shape: TopoDS_Shape) -> int:
    """Non-degenerate, non-seam edges bounded by exactly one face."""
    amap = occ.IndexedDataMap_TopoDS_Shape_List_TopoDS_Shape_TopTools_ShapeMapHasher()
    TopExp.MapShapesAndUniqueAncestors_s(shape, TopAbs_EDGE, TopAbs_FACE, amap)
    count = 0
    for i in range(1, amap.Size() + 1):
        if amap.FindFromIndex(i).Size() != 1:
            continue
        edge = TopoDS.Edge(amap.FindKey(i))
        face = TopoDS.Face(amap.FindFromIndex(i).First())
        if BRep_Tool.Degenerated_s(edge) or BRep_Tool.IsClosed_s(edge, face):
            continue
        count += 1
    return count


def quality_score(info: dict[str, Any]) -> float:
    """Score 0..1 = 0.30 valid + 0.25 closed + 0.20 solid + 0.15 surfaces + 0.10 clean.

    - valid: 1 if BRepCheck passes, else 0;
    - closed: 1 - free_edges / edges (edges on one face only are gaps or open boundaries);
    - solid: 1 if there is a solid and no free shell or free face, 0.5 with a solid next to loose
      shells or faces, 0 with no solid;
    - surfaces: share of faces that carry a geometric surface (0 for tessellated-only files);
    - clean: 1 with no warnings from the format stage (e.g. an empty schema), else 0.5.
    """
    edges = max(1, info.get("edges", 1))
    faces = max(1, info.get("faces", 1))
    closed = 1.0 - min(1.0, info.get("free_edges", 0) / edges)
    if info.get("solids", 0) == 0:
        solid = 0.0
    elif info.get("free_shells", 0) or info.get("free_faces", 0):
        solid = 0.5
    else:
        solid = 1.0
    surfaces = 1.0 - info.get("faces_without_surface", 0) / faces
    clean = 0.5 if info.get("warnings") else 1.0
    score = 0.30 * bool(info.get("valid")) + 0.25 * closed + 0.20 * solid + 0.15 * surfaces + 0.10 * clean
    return round(score, 3)
