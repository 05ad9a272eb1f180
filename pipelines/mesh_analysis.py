"""Mesh analysis for manufacturing: counts, volume, topology checks and recommendations.

Everything is vectorised over numpy arrays (one sort of the edge list drives edges,
shells, winding and holes); there is no Python loop over faces. ``analyze_mesh`` returns
a JSON-able dict of plain Python numbers; ``analyze_bytes`` loads a file first.

Conventions:
- ``volume`` is the signed volume in model units^3 (negative when normals point inward);
  it is only meaningful for a watertight mesh but is always reported. ``volume_cm3`` is
  the same number converted with ``units``.
- ``holes_count`` counts closed boundary loops. Two loops touching at one vertex are two
  loops: boundary edges are chained through the face fan around each vertex, not merely
  through shared vertices.
- ``overlapping_shells`` counts closed shells wound like the whole mesh whose solids share
  volume with another (manifold3d, float32): their ``volume`` counts the shared part twice, which prices
  a part by more material than it has. ``union_volume`` (and ``_cm3``) counts it once. Both
  are None when the mesh is not a closed, consistently wound surface (no solid to unite) or
  when the check would be too long (``TOL.max_overlap_shells``, ``TOL.max_overlap_pairs``).
- Faces whose three vertex indices are not distinct are degenerate and left out of the
  edge topology (they have no proper edges); zero-area faces with distinct indices count
  as degenerate but keep their edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import trimesh

from pipelines.errors import InputError
from pipelines.graph_components import components, shared_key_components
from pipelines.limits import LIMITS, Limits
from pipelines.mesh_io import load_mesh, resolve_format
from pipelines.progress import Progress, no_progress

# cubic centimetres per cubic model unit
UNIT_TO_CM3: dict[str, float] = {
    "mm": 1e-3,
    "cm": 1.0,
    "m": 1e6,
    "in": 2.54**3,
    "ft": 30.48**3,
}
UNIT_TO_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4, "ft": 304.8}


@dataclass(frozen=True)
class Tolerances:
    """Every threshold the analysis uses."""

    degenerate_area: float = 1e-12  # face is degenerate when 2*area <= this * (bbox diagonal)^2
    tiny_extent_mm: float = 1.0     # largest bounding box side below this: units likely wrong
    huge_extent_mm: float = 2000.0  # largest bounding box side above this: units likely wrong
    overlap_share: float = 1e-3     # shells overlap when they share more than this of the smaller's
                                    # volume (touching CAD bodies share ~1e-4 by export noise)
    max_overlap_shells: int = 500   # above this many shells the overlap is not checked (None)
    max_overlap_pairs: int = 400    # nor above this many shells' boxes meeting in pairs


TOL = Tolerances()


def analyze_bytes(
    data: bytes,
    fmt: str | None = None,
    *,
    units: str = "mm",
    progress: Progress = no_progress,
    limits: Limits = LIMITS,
) -> dict[str, Any]:
    """Load a mesh file and analyse it; the result also names the ``format`` read."""
    _unit_factor(units)
    progress(10, "loading mesh")
    fmt = resolve_format(data, fmt, limits=limits)
    mesh = load_mesh(data, fmt, limits=limits)
    progress(60, "analysing mesh")
    result = analyze_mesh(mesh, units=units)
    result["format"] = fmt
    progress(100, "done")
    return result


def analyze_mesh(mesh: trimesh.Trimesh, *, units: str = "mm") -> dict[str, Any]:
    """Analyse ``mesh`` (model units ``units``) and return the JSON-able report."""
    factor = _unit_factor(units)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    used = np.bincount(faces.ravel(), minlength=len(vertices)) > 0
    box = _bounding_box(vertices[used])
    cross = _cross(vertices, faces)
    doubled = np.linalg.norm(cross, axis=1)
    topo = edge_topology(faces, len(vertices))
    volume = signed_volume(vertices, faces, cross, box)
    report: dict[str, Any] = {
        "vertices": len(vertices),
        "faces": len(faces),
        "shells": topo["shells"],
        "volume": volume,
        "volume_cm3": volume * factor,
        "units": units,
        "area": float(doubled.sum() / 2.0),
        "bounding_box": box,
        "is_watertight": topo["boundary_edges"] == 0 and topo["non_manifold_edges"] == 0,
        "is_winding_consistent": topo["is_winding_consistent"],
        "is_manifold": topo["non_manifold_edges"] == 0,
        "boundary_edges": topo["boundary_edges"],
        "holes_count": topo["holes_count"],
        "non_manifold_edges": topo["non_manifold_edges"],
        "degenerate_faces": degenerate_count(faces, doubled, box),
        "duplicate_faces": duplicate_count(faces, len(vertices)),
        "euler_number": int(used.sum()) - topo["edges"] + len(faces),
    }
    report.update(_overlap_report(vertices, faces, topo, report, factor))
    report["recommendations"] = recommendations(report, UNIT_TO_MM[units])
    return report


def _overlap_report(vertices: np.ndarray, faces: np.ndarray, topo: dict[str, Any], report: dict[str, Any],
                    factor: float) -> dict[str, Any]:
    """``overlapping_shells``, ``union_volume`` and ``union_volume_cm3`` (see the module docstring)."""
    if not (report["is_watertight"] and report["is_winding_consistent"]):
        return {"overlapping_shells": None, "union_volume": None, "union_volume_cm3": None}
    return overlap_figures(vertices, faces, topo["shell_labels"], report["volume"], factor)


def overlap_figures(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray, volume: float,
                    factor: float) -> dict[str, Any]:
    """The overlap figures of a closed, consistently wound mesh of signed ``volume`` (model
    units; ``factor`` cm³ per unit) whose faces have shell ``labels``. A mesh wound inward
    throughout has its shells read as solids too, and its shared volume signed like ``volume``."""
    count, shared = 0, 0.0
    if labels.max(initial=0) > 0:
        inward = volume < 0
        count, shared = shell_overlap(vertices, faces[:, ::-1] if inward else faces, labels)
        shared = -shared if inward else shared
    union = None if count is None else volume - shared
    return {"overlapping_shells": count, "union_volume": union,
            "union_volume_cm3": None if union is None else union * factor}


def shell_overlap(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> tuple[int | None, float]:
    """(shells sharing volume with another, volume counted more than once) over the closed
    outward-wound shells of a watertight mesh; (None, 0.0) when not checked (too many
    candidate pairs, or a shell manifold3d cannot read)."""
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2.0  # float32 keeps more digits near 0
    if int(labels.max()) + 1 > TOL.max_overlap_shells:
        return None, 0.0
    solids, boxes = _solids(vertices - centre, faces, labels)
    if len(solids) < 2:
        return 0, 0.0
    lo, hi = boxes[:, 0], boxes[:, 1]
    meets = (lo[:, None] < hi[None]).all(axis=2) & (lo[None] < hi[:, None]).all(axis=2)
    first, second = np.nonzero(np.triu(meets, k=1))
    if len(first) > TOL.max_overlap_pairs:
        return None, 0.0
    if not len(first):
        return 0, 0.0
    from pipelines.mesh_union import solids_overlap  # manifold3d only for boxes that meet

    found = solids_overlap(solids, list(zip(first.tolist(), second.tolist(), strict=True)), TOL.overlap_share)
    if found is None:
        return None, 0.0
    return len(found[0]), found[1]


def _solids(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray
            ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Each shell with a positive volume as (its vertices, faces renumbered), and their boxes
    ``(k, 2, 3)``."""
    shells = int(labels.max()) + 1
    order = np.argsort(labels, kind="stable")
    cuts = np.cumsum(np.bincount(labels, minlength=shells))[:-1]
    solids, boxes = [], []
    for shell_faces in np.split(faces[order], cuts):
        used, local = np.unique(shell_faces, return_inverse=True)
        points, tri = vertices[used], local.reshape(-1, 3)
        box = (points.min(axis=0), points.max(axis=0))
        if len(tri) >= 4 and signed_volume(points, tri, _cross(points, tri), {"min": box[0], "max": box[1]}) > 0:
            solids.append((points, tri))
            boxes.append(box)
    return solids, np.asarray(boxes, dtype=np.float64).reshape(-1, 2, 3)


def _unit_factor(units: str) -> float:
    """Cubic centimetres per cubic ``units``; unknown units are an input error."""
    if units not in UNIT_TO_CM3:
        raise InputError(
            "INVALID_UNITS", f"Unknown units {units!r}.", {"units": units, "allowed": list(UNIT_TO_CM3)}
        )
    return UNIT_TO_CM3[units]


def _bounding_box(points: np.ndarray) -> dict[str, list[float]]:
    """Axis-aligned box of ``(n, 3) float`` points as min, max and size lists."""
    if not len(points):
        zero = [0.0, 0.0, 0.0]
        return {"min": zero, "max": list(zero), "size": list(zero)}
    lo, hi = points.min(axis=0), points.max(axis=0)
    return {"min": lo.tolist(), "max": hi.tolist(), "size": (hi - lo).tolist()}


def _cross(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Un-normalised face normals ``(m, 3) float``: length is twice the face area."""
    tri = vertices[faces]
    return np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])


def signed_volume(
    vertices: np.ndarray, faces: np.ndarray, cross: np.ndarray, box: dict[str, list[float]]
) -> float:
    """Signed enclosed volume by the divergence theorem, about the bounding box centre."""
    if not len(faces):
        return 0.0
    centre = (np.asarray(box["min"]) + np.asarray(box["max"])) / 2.0
    # v0 . ((v1 - v0) x (v2 - v0)) == v0 . (v1 x v2): the tetrahedron from the centre
    return float(np.einsum("ij,ij->", vertices[faces[:, 0]] - centre, cross) / 6.0)


def degenerate_count(faces: np.ndarray, doubled: np.ndarray, box: dict[str, list[float]]) -> int:
    """Faces with repeated vertex indices or, relative to the model size, zero area."""
    diagonal2 = float(np.square(box["size"]).sum())
    return int((~_distinct(faces) | (doubled <= TOL.degenerate_area * diagonal2)).sum())


def duplicate_count(faces: np.ndarray, n_vertices: int) -> int:
    """Faces using the same three vertices as another face, in any order."""
    if not len(faces):
        return 0
    lo, hi = faces.min(axis=1), faces.max(axis=1)
    mid = faces.sum(axis=1) - lo - hi  # np.sort(axis=1) is slow on rows of three
    head = lo * np.int64(max(n_vertices, 1)) + mid
    order = np.lexsort((hi, head))
    head, hi = head[order], hi[order]
    return int(((head[1:] == head[:-1]) & (hi[1:] == hi[:-1])).sum())


def _distinct(faces: np.ndarray) -> np.ndarray:
    """Mask ``(m,) bool`` of faces whose three vertex indices differ."""
    return (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])


def edge_topology(faces: np.ndarray, n_vertices: int) -> dict[str, Any]:
    """Edge counts, shells, winding consistency and boundary loops of ``(m, 3) int`` faces."""
    index = np.nonzero(_distinct(faces))[0]
    good = faces[index]
    directed = good[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)  # (3k, 2): edge j of face i at 3i+j
    low, high = directed.min(axis=1), directed.max(axis=1)
    edge_of, order = _group(low * np.int64(max(n_vertices, 1)) + high)
    labels = _shell_labels(len(faces), index, edge_of, order)
    counts = np.bincount(edge_of)
    uses = counts[edge_of]
    # +1 when the face walks the edge low->high; a consistent manifold edge sums to 0
    sign = np.where(directed[:, 0] < directed[:, 1], 1, -1)
    balance = np.bincount(edge_of, weights=sign, minlength=len(counts))
    return {
        "edges": len(counts),
        "boundary_edges": int((counts == 1).sum()),
        "non_manifold_edges": int((counts > 2).sum()),
        "is_winding_consistent": bool((balance[counts == 2] == 0).all()),
        "shells": int(labels.max()) + 1 if len(labels) else 0,
        "shell_labels": labels,
        "holes_count": _hole_count(good, edge_of, uses, low == directed[:, 0]),
    }


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense id ``(n,) int`` of each key's value, and the sort order of ``keys``."""
    order = np.argsort(keys)
    ordered = keys[order]
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    ids = np.empty(len(keys), dtype=np.int64)
    ids[order] = np.cumsum(first) - 1
    return ids, order


def _shell_labels(n_faces: int, index: np.ndarray, edge_of: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Shell ``(m,) int`` of each face: connected components of faces joined by shared edges
    (degenerate faces stand alone), from the edge sort ``edge_topology`` already has."""
    if not n_faces:
        return np.zeros(0, dtype=np.int64)
    return shared_key_components(n_faces, edge_of[order], index[order // 3])


def _hole_count(good: np.ndarray, edge_of: np.ndarray, uses: np.ndarray, starts_low: np.ndarray) -> int:
    """Closed boundary loops: boundary edges chained through each vertex's face fan.

    Nodes are edge ends ``2 * edge + (0 at the low vertex, 1 at the high one)``. Each face
    corner joins the ends of its two edges at that vertex, so the ends around a vertex fall
    into one group per face fan; an open fan has two boundary edge ends, which it chains.
    A boundary edge then joins the fans at its two ends, and every loop is one component.
    """
    if not (uses == 1).any():
        return 0
    k = len(good)
    edge = edge_of.reshape(k, 3)
    low = starts_low.reshape(k, 3)
    # edge j of a face runs corner j -> corner j+1; corner j touches edges j and j-1
    end_in = np.where(low, 0, 1)     # end of edge j at its start corner j
    end_out = 1 - end_in             # end of edge j at corner j+1
    node_start = 2 * edge + end_in
    node_end = np.roll(2 * edge + end_out, 1, axis=1)  # at corner j: edge j-1's end there
    boundary = np.unique(edge_of[uses == 1])
    rim = np.zeros(int(good.max()) + 1, dtype=bool)
    open_edge = uses == 1
    rim[good.ravel()[open_edge]] = True
    rim[np.roll(good, -1, axis=1).ravel()[open_edge]] = True
    near = rim[good]  # only corners at boundary vertices can chain boundary edges
    fan = components(2 * (int(edge_of.max()) + 1), node_start[near], node_end[near])
    a, b = fan[2 * boundary], fan[2 * boundary + 1]
    fans, packed = np.unique(np.concatenate([a, b]), return_inverse=True)
    loops = components(len(fans), packed[: len(a)], packed[len(a):])
    return int(loops.max()) + 1


def recommendations(report: dict[str, Any], mm_per_unit: float) -> list[dict[str, str]]:
    """Advice for a report, most severe first: severity high|medium|low, message, action."""
    out: list[dict[str, str]] = []

    def add(severity: str, message: str, action: str) -> None:
        out.append({"severity": severity, "message": message, "action": action})

    if not report["is_watertight"]:
        add("high", f"Model is not watertight ({report['holes_count']} holes detected)",
            "Use aggressive repair mode")
    if report["non_manifold_edges"]:
        add("high", f"Model has {report['non_manifold_edges']} non-manifold edges",
            "Use aggressive repair mode to rebuild the surface")
    if report["overlapping_shells"]:
        add("high", f"{report['overlapping_shells']} shells overlap: the volume counts "
            f"{abs(report['volume_cm3'] - report['union_volume_cm3']):.4g} cm³ of shared material twice "
            f"({abs(report['union_volume_cm3']):.4g} cm³ once)",
            "Repair with remove_self_intersections=true to unite them")
    if not report["is_winding_consistent"]:
        add("medium", "Face winding is inconsistent (some normals are flipped)",
            "Repair will make the winding consistent")
    elif report["is_watertight"] and report["volume"] < 0:
        add("medium", "Normals point inward (negative volume)", "Repair will flip the normals outward")
    if report["degenerate_faces"]:
        add("low", f"Model has {report['degenerate_faces']} degenerate (zero-area) faces",
            "Repair will remove them")
    if report["duplicate_faces"]:
        add("low", f"Model has {report['duplicate_faces']} duplicate faces", "Repair will remove them")
    if report["shells"] > 1:
        add("low", f"Model has {report['shells']} separate shells; all will be kept",
            "Set keep_all_shells=false to keep only the largest shell")
    _units_hint(report, mm_per_unit, add)
    return out


def _units_hint(report: dict[str, Any], mm_per_unit: float, add: Callable[[str, str, str], None]) -> None:
    """Warn when the model's size suggests it was exported in other units."""
    extent = max(report["bounding_box"]["size"]) * mm_per_unit
    units = report["units"]
    if 0 < extent < TOL.tiny_extent_mm:
        add("medium", f"Model is very small ({extent:.3g} mm across) in {units}",
            "Check the units: the file may be in metres or inches")
    elif extent > TOL.huge_extent_mm:
        add("medium", f"Model is very large ({extent:.4g} mm across) in {units}",
            "Check the units: the file may be in micrometres or another unit")
