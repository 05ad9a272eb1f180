"""Tier 3: mesh heuristics, for STL/OBJ input, tessellated-only STEP, or when the B-Rep tier fails.

Regions are B-Rep faces when the mesh came from one (the face map), else groups of triangles
joined across edges with a dihedral angle under ``MeshTol.smooth_deg``. Each region is typed by
its triangles' normals in the part frame (dominant area-weighted normals):

- flat, along a frame axis and on the part's box: ``stock``;
- flat and oblique: ``chamfer``;
- flat elsewhere: ``pocket_blind`` (a depression, type unknown without topology);
- curved with normals turned towards its middle (a concave wall): ``hole_through``;
- other curved regions: ``fillet``.

Confidence is 0.5: labels are coarse and there are no feature dimensions beyond sizes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import trimesh

from pipelines.errors import InputError
from pipelines.features_rules import Recognition
from pipelines.progress import Progress, no_progress

CONFIDENCE = 0.5


@dataclass(frozen=True)
class MeshTol:
    """Angles in degrees, distances relative to the bounding-box diagonal."""

    smooth_deg: float = 20.0
    flat_deg: float = 3.0
    axis_deg: float = 3.0
    on_box_rel: float = 2e-3


TOL = MeshTol()


def mesh_frame(normals: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Three orthonormal axes from area-weighted dominant triangle normals (rows)."""
    order = np.argsort(-areas)
    clusters: list[list] = []
    cos_tol = math.cos(math.radians(TOL.axis_deg))
    for t in order[:20000]:
        n = normals[t]
        for c in clusters:
            if abs(c[1].dot(n)) > cos_tol:
                c[0] += areas[t]
                break
        else:
            clusters.append([areas[t], n])
    clusters.sort(key=lambda c: -c[0])
    if not clusters:
        return np.eye(3)
    a = clusters[0][1] / np.linalg.norm(clusters[0][1])
    second = next((c[1] for c in clusters[1:] if abs(c[1].dot(a)) < 0.05), np.eye(3)[int(np.argmin(np.abs(a)))])
    b = second - second.dot(a) * a
    b /= np.linalg.norm(b)
    return np.vstack([a, b, np.cross(a, b)])


def recognise_faces(vertices: np.ndarray, triangles: np.ndarray, region: np.ndarray,
                    n_regions: int) -> Recognition | None:
    """Label regions (``region[t]`` per triangle) with the heuristics above; None when empty."""
    if len(triangles) == 0:
        return None
    tri = vertices[triangles]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    areas = 0.5 * np.linalg.norm(cross, axis=1)
    normals = cross / np.maximum(2 * areas, 1e-30)[:, None]
    centres = tri.mean(axis=1)
    frame = mesh_frame(normals, areas)
    local = vertices @ frame.T
    lo, hi = local.min(0), local.max(0)
    diag = float(np.linalg.norm(hi - lo)) or 1.0
    labels = ["stock"] * n_regions
    for r in range(n_regions):
        sel = region == r
        if sel.any():
            labels[r] = region_label(normals[sel], areas[sel], centres[sel] @ frame.T, frame, lo, hi, diag)
    features = [{"id": r, "type": lab, "faces": [r], "dimensions": {}, "axis": None, "confidence": CONFIDENCE}
                for r, lab in enumerate(labels) if lab != "stock"]
    feature_of: list[int | None] = [None] * n_regions
    for f in features:
        feature_of[f["faces"][0]] = f["id"]
    return Recognition(labels, feature_of, features, CONFIDENCE)


def region_label(normals: np.ndarray, areas: np.ndarray, centres: np.ndarray, frame: np.ndarray,
                 lo: np.ndarray, hi: np.ndarray, diag: float) -> str:
    """The class of one region from its normals, position and curvature sense."""
    mean = (normals * areas[:, None]).sum(0)
    norm = np.linalg.norm(mean)
    flat = norm > 1e-12 and np.all(normals @ (mean / norm) > math.cos(math.radians(TOL.flat_deg)))
    if flat:
        n = mean / norm
        local_n = frame @ n
        k = int(np.argmax(np.abs(local_n)))
        if abs(local_n[k]) < math.cos(math.radians(TOL.axis_deg)):
            return "chamfer"
        level = float(np.average(centres[:, k], weights=areas + 1e-30))
        edge = hi[k] if local_n[k] > 0 else lo[k]
        return "stock" if abs(level - edge) < TOL.on_box_rel * diag else "pocket_blind"
    middle = np.average(centres, axis=0, weights=areas + 1e-30) @ frame
    outward = ((centres @ frame - middle) * normals).sum(1)
    return "hole_through" if float(np.average(outward, weights=areas + 1e-30)) < 0 else "fillet"


def segment(mesh: trimesh.Trimesh) -> tuple[np.ndarray, int]:
    """Region id per triangle: components over edges with a dihedral angle under the smooth limit."""
    adj = mesh.face_adjacency
    keep = mesh.face_adjacency_angles < math.radians(TOL.smooth_deg)
    groups = trimesh.graph.connected_components(adj[keep], nodes=np.arange(len(mesh.faces)), min_len=1)
    region = np.zeros(len(mesh.faces), dtype=np.int64)
    for r, g in enumerate(sorted(groups, key=lambda g: int(np.min(g)))):
        region[g] = r
    return region, len(groups)


def analyze_mesh(data: bytes, fmt: str, *, forced: int | None = None, progress: Progress = no_progress) -> Any:
    """Tier 3 (or 4 when forced) on a triangle mesh file; returns a CadResult."""
    from pipelines.cad_analysis import CadResult
    from pipelines.mesh_io import load_mesh
    from pipelines.step_tessellate import to_glb

    if not data:
        raise InputError("CAD_FILE_EMPTY", "the file is empty")
    progress(5, "reading mesh")
    mesh = load_mesh(data, fmt)
    region, n = segment(mesh)
    progress(50, "recognising regions")
    rec = None if forced == 4 else recognise_faces(np.asarray(mesh.vertices), np.asarray(mesh.faces), region, n)
    tier = {"used": 3 if rec else 4, "name": "mesh_heuristics" if rec else "view_only",
            "confidence": CONFIDENCE if rec else 0.4,
            "fallback_reason": "mesh input: no B-Rep" if rec else "view only requested"}
    areas = np.bincount(region, weights=mesh.area_faces, minlength=n)
    faces = [{"index": r, "surface_type": "mesh_region", "area": round(float(areas[r]), 6),
              "label": rec.labels[r] if rec else None, "feature_id": rec.feature_of[r] if rec else None}
             for r in range(n)]
    report = {
        "schema_version": "meshmill.cad.v1",
        "validation": {"stages": [{"stage": "file", "ok": True, "code": None, "details": {"bytes": len(data)}},
                                  {"stage": "format", "ok": True, "code": None, "details": {"format": fmt}}],
                       "quality_score": None, "schema": None, "units": {"file": "unknown", "reported": "unknown"},
                       "roots": 0, "solids": 0, "shells": 0, "open_shells": 0, "free_faces": 0,
                       "is_assembly": False, "mesh_only": True, "watertight": bool(mesh.is_watertight)},
        "healing_applied": {"applied": False, "reason": "mesh input"},
        "tier": tier, "faces": faces, "features": rec.features if rec else [],
        "summary": {"faces": n, "features": len(rec.features) if rec else 0,
                    "faces_by_label": dict(Counter(f["label"] for f in faces if f["label"]))},
    }
    progress(100, "done")
    return CadResult(report, to_glb(np.asarray(mesh.vertices), np.asarray(mesh.faces)), region)
