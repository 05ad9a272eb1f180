"""Tessellate B-Rep faces with BRepMesh into one triangle mesh, a GLB and a face map.

``linear_deflection`` is relative: the chordal tolerance is ``linear_deflection`` percent of the
part's bounding-box diagonal (default 0.1 -> 0.1 %), so a scaled part gets the same mesh up to
scale. ``angular_deflection`` is in radians. Faces that already carry a triangulation and no
surface (tessellated-only AP242) keep the triangulation they came with.

``face_map[t]`` is the face index (project convention) of triangle ``t``; triangles of one face
are contiguous and faces come in index order.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import trimesh
from OCP.Bnd import Bnd_Box
from OCP.BRep import BRep_Tool
from OCP.BRepBndLib import BRepBndLib
from OCP.BRepMesh import BRepMesh_IncrementalMesh
from OCP.TopAbs import TopAbs_REVERSED
from OCP.TopLoc import TopLoc_Location
from OCP.TopoDS import TopoDS_Shape

from pipelines.errors import InputError


@dataclass
class Tessellation:
    """vertices (n, 3) float, triangles (m, 3) int, face_map (m,) int, per-face points."""

    vertices: np.ndarray
    triangles: np.ndarray
    face_map: np.ndarray
    face_points: list[np.ndarray]


def bounding_diagonal(shape: TopoDS_Shape) -> float:
    """Diagonal of the shape's axis-aligned bounding box (0 when empty or unbounded)."""
    box = Bnd_Box()
    BRepBndLib.Add_s(shape, box, True)
    if box.IsVoid():
        return 0.0
    lo, hi = box.CornerMin(), box.CornerMax()
    d = float(np.linalg.norm([hi.X() - lo.X(), hi.Y() - lo.Y(), hi.Z() - lo.Z()]))
    return d if np.isfinite(d) and d < 1e12 else 0.0


def tessellate(shape: TopoDS_Shape, faces: list, face_index: list[int], *, linear_deflection: float = 0.1,
               angular_deflection: float = 0.5, diagonal: float | None = None) -> Tessellation:
    """Mesh ``shape`` and gather triangles face by face, mapping face ``j`` to ``face_index[j]``."""
    diag = diagonal if diagonal else bounding_diagonal(shape)
    if diag <= 0:
        diag = 1.0
    deflection = max(linear_deflection, 1e-4) * 0.01 * diag
    BRepMesh_IncrementalMesh(shape, deflection, False, angular_deflection, False)
    verts: list[np.ndarray] = []
    tris: list[np.ndarray] = []
    fmap: list[np.ndarray] = []
    points: list[np.ndarray] = []
    offset = 0
    for j, face in enumerate(faces):
        v, t = face_triangles(face)
        points.append(v)
        if len(t):
            verts.append(v)
            tris.append(t + offset)
            fmap.append(np.full(len(t), face_index[j], dtype=np.int64))
            offset += len(v)
    if not tris:
        raise InputError("CAD_TESSELLATION_FAILED", "no face could be tessellated")
    return Tessellation(np.vstack(verts), np.vstack(tris), np.concatenate(fmap), points)


def face_triangles(face: object) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (k, 3) float and triangles (t, 3) int of one face, wound along its outward normal."""
    loc = TopLoc_Location()
    tri = BRep_Tool.Triangulation_s(face, loc)
    if tri is None or tri.NbTriangles() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    trsf = loc.Transformation()
    nodes = np.array([tri.Node(i).Transformed(trsf).Coord() for i in range(1, tri.NbNodes() + 1)])
    triangles = np.array([tri.Triangle(i).Get() for i in range(1, tri.NbTriangles() + 1)], dtype=np.int64) - 1
    if face.Orientation() == TopAbs_REVERSED:
        triangles = triangles[:, ::-1]
    return nodes, triangles


def to_glb(vertices: np.ndarray, triangles: np.ndarray) -> bytes:
    """A binary glTF of the triangle mesh; triangle order is kept so the face map applies."""
    mesh = trimesh.Trimesh(vertices=vertices, faces=triangles, process=False)
    buffer = io.BytesIO()
    mesh.export(buffer, file_type="glb")
    return buffer.getvalue()
