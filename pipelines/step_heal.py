"""Heal a transferred STEP shape with ShapeFix and sewing, and keep faces traceable.

A clean shape (BRepCheck valid, no free edges) is returned untouched. Otherwise open shells and
free faces are sewn (``BRepBuilderAPI_Sewing``), then ``ShapeFix_Shape`` fixes gaps, small
edges, wire order and orientation. The audit (``healing_applied``) reports the counts before and
after. ``face_origin[j]`` gives, for each healed face ``j``, the index of the face as read, so
labels can always be reported against the faces as read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import OCP.OCP.collections as occ
from OCP.BRepBuilderAPI import BRepBuilderAPI_Sewing
from OCP.BRepGProp import BRepGProp
from OCP.GProp import GProp_GProps
from OCP.ShapeFix import ShapeFix_Shape
from OCP.TopAbs import TopAbs_FACE
from OCP.TopoDS import TopoDS_Shape

from pipelines.step_load import face_list, is_valid, shape_map, topology_counts


@dataclass
class Healed:
    """The healed shape, its faces in index order, and each one's original face index."""

    shape: TopoDS_Shape
    faces: list
    face_origin: list[int]
    audit: dict[str, Any]


def heal_shape(shape: TopoDS_Shape, faces: list, info: dict[str, Any], *, enabled: bool = True,
               diagonal: float = 1.0) -> Healed:
    """Sew and fix ``shape`` when it needs it; ``faces`` are the faces as read."""
    needs = not info.get("valid", True) or info.get("free_edges", 0) > 0
    if not enabled or not needs or info.get("mesh_only"):
        reason = "disabled" if not enabled else ("mesh_only" if info.get("mesh_only") else "clean")
        return Healed(shape, faces, list(range(len(faces))), {"applied": False, "reason": reason})
    sewn, sewing = _sew(shape, diagonal) if info.get("free_edges", 0) else (shape, None)
    fixer = ShapeFix_Shape(sewn)
    fixer.SetPrecision(max(1e-7, 1e-6 * diagonal))
    fixer.SetMaxTolerance(max(1e-5, 1e-3 * diagonal))
    fixer.Perform()
    healed = fixer.Shape()
    new_faces = face_list(healed)
    if not new_faces:
        return Healed(shape, faces, list(range(len(faces))), {"applied": False, "reason": "fix removed faces"})
    origin = trace_faces(faces, new_faces, sewing, fixer)
    audit = _audit(info, healed, new_faces, sewing is not None)
    return Healed(healed, new_faces, origin, audit)


def _sew(shape: TopoDS_Shape, diagonal: float) -> tuple[TopoDS_Shape, BRepBuilderAPI_Sewing | None]:
    """Sew free faces and open shells with a tolerance relative to the part size."""
    sewing = BRepBuilderAPI_Sewing(max(1e-6, 1e-4 * diagonal))
    sewing.Load(shape)
    sewing.Perform()
    out = sewing.SewedShape()
    return (shape, None) if out.IsNull() else (out, sewing)


def trace_faces(faces: list, new_faces: list, sewing: Any, fixer: ShapeFix_Shape) -> list[int]:
    """For each healed face, the index of the original face it came from."""
    index = shape_map_of(new_faces)
    origin = [-1] * len(new_faces)
    context = fixer.Context()
    for i, face in enumerate(faces):
        image = face
        if sewing is not None and sewing.IsModified(face):
            image = sewing.Modified(face)
        image = context.Value(image)
        if image.IsNull():
            continue
        for sub in face_list(image):
            j = index.FindIndex(sub)
            if j and origin[j - 1] < 0:
                origin[j - 1] = i
    _fill_byface_centroid(faces, new_faces, origin)
    return origin


def shape_map_of(faces: list) -> Any:
    """An IsSame-keyed index of a face list (1-based)."""
    found = occ.IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher()
    for face in faces:
        found.Add(face)
    return found


def _fill_byface_centroid(faces: list, new_faces: list, origin: list[int]) -> None:
    """Give untraced healed faces the original face with the nearest area centroid."""
    missing = [j for j, o in enumerate(origin) if o < 0]
    if not missing:
        return
    old = [face_centroid(f) for f in faces]
    for j in missing:
        c = face_centroid(new_faces[j])
        origin[j] = min(range(len(old)), key=lambda i: sum((a - b) ** 2 for a, b in zip(old[i], c, strict=True)))


def face_centroid(face: Any) -> tuple[float, float, float]:
    """Area centroid of a face (its first vertex when it has no area)."""
    props = GProp_GProps()
    BRepGProp.SurfaceProperties_s(face, props)
    p = props.CentreOfMass()
    return (p.X(), p.Y(), p.Z())


def _audit(before: dict[str, Any], healed: TopoDS_Shape, new_faces: list, sewn: bool) -> dict[str, Any]:
    """What changed: counts before and after sewing and ShapeFix."""
    after = topology_counts(healed, new_faces)
    keys = ("solids", "shells", "open_shells", "free_faces", "free_edges", "faces", "edges")
    fixes = {k: {"before": before.get(k), "after": after[k]} for k in keys if before.get(k) != after[k]}
    valid_after = is_valid(healed)
    if before.get("valid") != valid_after:
        fixes["valid"] = {"before": before.get("valid"), "after": valid_after}
    return {"applied": True, "sewing": sewn, "shapefix": True, "fixes": fixes,
            "faces_after": shape_map(healed, TopAbs_FACE).Size()}
