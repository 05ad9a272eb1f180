"""Face adjacency graph of a B-Rep with per-face descriptors, edge convexity and the part frame.

- ``FaceInfo``: surface type, area, centroid, outward normal (planes) or axis line and radius
  (cylinders, cones, spheres, tori), whether a revolution surface is concave (material outside,
  a hole wall) and its angular span, and the number of wires.
- Edges between two distinct faces are ``convex``, ``concave`` or ``smooth`` (normals within
  ``GraphTol.smooth_deg`` at the edge midpoint).
- The part frame: three orthonormal axes from the area-weighted dominant face directions (plane
  normals and revolution axes, sign-free), never inertia axes. Rows of ``frame`` are the axes.

Every quantity is either intrinsic or taken in the part frame, so a rotated, moved or scaled copy
of a part gives the same graph up to scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import OCP.OCP.collections as occ
from OCP.BRep import BRep_Tool
from OCP.BRepAdaptor import BRepAdaptor_Curve, BRepAdaptor_Curve2d, BRepAdaptor_Surface
from OCP.BRepGProp import BRepGProp, BRepGProp_Face
from OCP.BRepTools import BRepTools
from OCP.GeomAbs import GeomAbs_SurfaceType as St
from OCP.gp import gp_Pnt, gp_Vec
from OCP.GProp import GProp_GProps
from OCP.TopAbs import TopAbs_EDGE, TopAbs_REVERSED, TopAbs_WIRE
from OCP.TopExp import TopExp_Explorer
from OCP.TopoDS import TopoDS

SURFACE_NAMES = {
    St.GeomAbs_Plane: "plane", St.GeomAbs_Cylinder: "cylinder", St.GeomAbs_Cone: "cone",
    St.GeomAbs_Sphere: "sphere", St.GeomAbs_Torus: "torus", St.GeomAbs_BezierSurface: "bezier",
    St.GeomAbs_BSplineSurface: "bspline", St.GeomAbs_SurfaceOfRevolution: "revolution",
    St.GeomAbs_SurfaceOfExtrusion: "extrusion", St.GeomAbs_OffsetSurface: "offset",
    St.GeomAbs_OtherSurface: "other",
}
REVOLUTION = frozenset({"cylinder", "cone", "sphere", "torus"})


@dataclass(frozen=True)
class GraphTol:
    """Angular and relative tolerances of the graph (distances relative to the bbox diagonal)."""

    smooth_deg: float = 8.0       # normals closer than this at an edge: a smooth (tangent) edge
    parallel_deg: float = 2.0     # directions closer than this are the same direction
    coaxial_rel: float = 1e-3     # axis lines closer than this (x diagonal) are the same line


TOL = GraphTol()


@dataclass
class FaceInfo:
    """Descriptors of one B-Rep face; vectors are (3,) float arrays."""

    index: int
    surface_type: str
    area: float
    centroid: np.ndarray
    normal: np.ndarray | None = None      # planes: outward unit normal
    axis: np.ndarray | None = None        # revolution surfaces: unit axis direction
    location: np.ndarray | None = None    # revolution surfaces: a point on the axis
    radius: float | None = None
    concave: bool | None = None           # revolution surfaces: material outside (hole-like)
    span: float = 0.0                     # cylinders: angular span in radians
    wires: int = 1
    semi_angle: float | None = None       # cones


@dataclass
class BrepGraph:
    """Faces, adjacency with convexity, the part frame and the part size."""

    faces: list[FaceInfo]
    adjacency: list[dict[int, set[str]]]
    frame: np.ndarray                      # (3, 3) float, rows are the frame axes
    diagonal: float
    points: list[np.ndarray] = field(default_factory=list)   # per face (k, 3) sample points

    def neighbours(self, i: int) -> dict[int, set[str]]:
        """Neighbour face index -> set of edge convexities between them."""
        return self.adjacency[i]


def build_graph(faces: list, points: list[np.ndarray], diagonal: float) -> BrepGraph:
    """Descriptors, adjacency and frame for ``faces`` (index order) with per-face sample points."""
    infos = [describe_face(i, f) for i, f in enumerate(faces)]
    adjacency = edge_convexity(faces, infos)
    frame = part_frame(infos)
    return BrepGraph(infos, adjacency, frame, max(diagonal, 1e-12), points)


def _vec(p: gp_Pnt | gp_Vec) -> np.ndarray:
    return np.array([p.X(), p.Y(), p.Z()])


def describe_face(index: int, face: object) -> FaceInfo:
    """Surface type, area, centroid, normal or axis, concavity, span and wire count of one face."""
    props = GProp_GProps()
    BRepGProp.SurfaceProperties_s(face, props)
    info = FaceInfo(index, "tessellated", float(props.Mass()), _vec(props.CentreOfMass()))
    if BRep_Tool.Surface_s(face) is None:
        return info
    surf = BRepAdaptor_Surface(face, True)
    kind = SURFACE_NAMES.get(surf.GetType(), "other")
    info.surface_type = kind
    info.wires = _count(face, TopAbs_WIRE)
    umin, umax, vmin, vmax = BRepTools.UVBounds_s(face)
    point, normal = face_normal(face, 0.5 * (umin + umax), 0.5 * (vmin + vmax))
    if kind == "plane":
        info.normal = normal
    elif kind in REVOLUTION:
        _revolution(info, surf, kind, point, normal)
        info.span = float(umax - umin)
    return info


def _revolution(info: FaceInfo, surf: BRepAdaptor_Surface, kind: str, point: np.ndarray,
                normal: np.ndarray) -> None:
    """Axis line, radius and concavity of a cylinder, cone, sphere or torus."""
    if kind == "cylinder":
        ax, info.radius = surf.Cylinder().Axis(), surf.Cylinder().Radius()
    elif kind == "cone":
        cone = surf.Cone()
        ax, info.radius, info.semi_angle = cone.Axis(), cone.RefRadius(), cone.SemiAngle()
    elif kind == "sphere":
        sph = surf.Sphere()
        ax, info.radius = sph.Position().Axis(), sph.Radius()
    else:
        tor = surf.Torus()
        ax, info.radius, major = tor.Axis(), tor.MinorRadius(), tor.MajorRadius()
    info.axis = _vec(ax.Direction())
    info.location = _vec(ax.Location())
    radial = point - info.location
    radial -= radial.dot(info.axis) * info.axis
    if kind in ("sphere", "torus"):
        centre = _tube_centre(info, point, major) if kind == "torus" else info.location
        radial = point - centre
    info.concave = bool(normal.dot(radial) < 0)


def _tube_centre(info: FaceInfo, point: np.ndarray, major: float) -> np.ndarray:
    """Centre of the torus tube circle nearest ``point``."""
    rel = point - info.location
    planar = rel - rel.dot(info.axis) * info.axis
    norm = np.linalg.norm(planar)
    if norm < 1e-12:
        return info.location
    return info.location + planar / norm * major


def face_normal(face: object, u: float, v: float) -> tuple[np.ndarray, np.ndarray]:
    """Point and outward unit normal (face orientation applied) at (u, v)."""
    prop = BRepGProp_Face(face)
    pnt, vec = gp_Pnt(), gp_Vec()
    prop.Normal(u, v, pnt, vec)
    n = _vec(vec)
    norm = np.linalg.norm(n)
    return _vec(pnt), (n / norm if norm > 0 else n)


def _count(shape: object, kind: object) -> int:
    exp = TopExp_Explorer(shape, kind)
    n = 0
    while exp.More():
        n += 1
        exp.Next()
    return n


def edge_convexity(faces: list, infos: list[FaceInfo]) -> list[dict[int, set[str]]]:
    """For each face, neighbour index -> convexities of the edges shared with it."""
    emap = occ.IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher()
    uses: dict[int, list[tuple[int, object]]] = {}
    for i, face in enumerate(faces):
        exp = TopExp_Explorer(face, TopAbs_EDGE)
        while exp.More():
            edge = exp.Current()
            k = emap.Add(edge)
            uses.setdefault(k, []).append((i, edge))
            exp.Next()
    adjacency: list[dict[int, set[str]]] = [{} for _ in faces]
    for users in uses.values():
        distinct = {i for i, _ in users}
        if len(distinct) != 2:
            continue
        (i, e1), (j, e2) = users[0], next(u for u in users if u[0] != users[0][0])
        kind = _classify_edge(faces[i], TopoDS.Edge(e1), faces[j], TopoDS.Edge(e2))
        if kind is None:
            continue
        adjacency[i].setdefault(j, set()).add(kind)
        adjacency[j].setdefault(i, set()).add(kind)
    return adjacency


def _classify_edge(f1: object, e1: object, f2: object, e2: object) -> str | None:
    """Convex, concave or smooth at the edge midpoint; None for degenerate edges."""
    if BRep_Tool.Degenerated_s(e1):
        return None
    curve = BRepAdaptor_Curve(e1)
    t_mid = 0.5 * (curve.FirstParameter() + curve.LastParameter())
    pnt, tan = gp_Pnt(), gp_Vec()
    curve.D1(t_mid, pnt, tan)
    t = _vec(tan)
    if np.linalg.norm(t) < 1e-12:
        return None
    t /= np.linalg.norm(t)
    if e1.Orientation() == TopAbs_REVERSED:
        t = -t
    n1 = _normal_on_edge(f1, e1, t_mid)
    n2 = _normal_on_edge(f2, e2, t_mid)
    if n1 is None or n2 is None:
        return None
    if n1.dot(n2) > math.cos(math.radians(TOL.smooth_deg)):
        return "smooth"
    inward = np.cross(n1, t)
    return "concave" if n2.dot(inward) > 0 else "convex"


def _normal_on_edge(face: object, edge: object, t: float) -> np.ndarray | None:
    """Outward normal of ``face`` at parameter ``t`` of ``edge`` through its p-curve."""
    try:
        uv = BRepAdaptor_Curve2d(edge, face).Value(t)
    except Exception:  # OCCT Standard_Failure: no p-curve of this edge on this face
        return None
    n = face_normal(face, uv.X(), uv.Y())[1]
    return n if np.linalg.norm(n) > 0 else None


def part_frame(infos: list[FaceInfo]) -> np.ndarray:
    """Three orthonormal axes from area-weighted plane normals and revolution axes (sign-free)."""
    clusters: list[list] = []   # [weight, direction]
    cos_tol = math.cos(math.radians(TOL.parallel_deg))
    for f in sorted(infos, key=lambda f: -f.area):
        d = f.normal if f.normal is not None else f.axis
        if d is None or f.area <= 0:
            continue
        for c in clusters:
            if abs(c[1].dot(d)) > cos_tol:
                c[0] += f.area
                break
        else:
            clusters.append([f.area, d / np.linalg.norm(d)])
    clusters.sort(key=lambda c: -c[0])
    if not clusters:
        return np.eye(3)
    a = clusters[0][1]
    sin_tol = math.sin(math.radians(TOL.parallel_deg))
    second = next((c[1] for c in clusters[1:] if abs(c[1].dot(a)) < sin_tol), None)
    if second is None:
        helper = np.eye(3)[int(np.argmin(np.abs(a)))]
        second = np.cross(a, helper)
    b = second - second.dot(a) * a
    b /= np.linalg.norm(b)
    return np.vstack([a, b, np.cross(a, b)])


def same_line(f: FaceInfo, g: FaceInfo, diagonal: float) -> bool:
    """True when two revolution faces share their axis line."""
    if f.axis is None or g.axis is None:
        return False
    if abs(f.axis.dot(g.axis)) < math.cos(math.radians(TOL.parallel_deg)):
        return False
    d = g.location - f.location
    off = d - d.dot(f.axis) * f.axis
    return bool(np.linalg.norm(off) < TOL.coaxial_rel * diagonal)


def is_parallel(u: np.ndarray, v: np.ndarray) -> bool:
    """Directions equal up to sign within the parallel tolerance."""
    return bool(abs(u.dot(v)) > math.cos(math.radians(TOL.parallel_deg)))


def is_perpendicular(u: np.ndarray, v: np.ndarray) -> bool:
    """Directions at right angles within the parallel tolerance."""
    return bool(abs(u.dot(v)) < math.sin(math.radians(TOL.parallel_deg)))
