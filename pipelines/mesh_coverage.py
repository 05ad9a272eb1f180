"""Surface coverage: how much of an original surface a repaired surface still covers.

``surface_coverage(original, repaired)`` is the share of the original's area whose points lie
within ``TOL.coverage_distance`` x bounding-box diagonal of the repaired surface. It is fast on
repairs that keep most triangles: an original triangle found unchanged in the repaired mesh is
covered as a whole; only the rest is sampled (fewer points when the rest is a small share of the
area: the sampling error on the whole stays that of ``TOL.coverage_samples`` points), checked
against a KD-tree of dense samples of only the repaired faces that can reach those points, and
the few points that tree cannot settle are measured exactly.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from pipelines.mesh_repair_tol import TOL, RepairTol

_SEED = 20240604
_NEIGHBOURS = 16  # faces of this many nearest samples are measured exactly
_MIN_SAMPLES = 2_000  # points on the changed part of the original, however small it is
_DENSITY = 4  # dense samples per limit**2 of reachable area (spacing limit / 2; the band between
# limit and limit + 3 spacings is settled exactly)
_NEGLIGIBLE = 1e-9  # a changed part under this share of the area is not sampled


def surface_coverage(original: trimesh.Trimesh, repaired: trimesh.Trimesh, *, tol: RepairTol = TOL) -> float:
    """Share (0..1) of ``original``'s area within ``tol.coverage_distance`` of ``repaired``."""
    areas = original.area_faces
    total = float(areas.sum())
    if len(original.faces) == 0 or total <= 0.0:
        return 1.0
    if len(repaired.faces) == 0:
        return 0.0
    kept = kept_faces(original, repaired)
    rest_area = float(areas[~kept].sum())
    if rest_area <= 0.0:
        return 1.0
    if rest_area <= _NEGLIGIBLE * total:  # e.g. only degenerate faces went: not worth sampling
        return (total - rest_area) / total  # counted as uncovered, so never more than the truth
    limit = tol.coverage_distance * _diagonal(original)
    # the sampling error on the whole scales with the rest's share: fewer points keep it the same
    count = int(min(tol.coverage_samples, max(_MIN_SAMPLES, tol.coverage_samples * rest_area / total)))
    share = _sampled_share(original, ~kept, repaired, limit, tol, count)
    return float(min(1.0, (total - rest_area + share * rest_area) / total))


def kept_faces(original: trimesh.Trimesh, repaired: trimesh.Trimesh) -> np.ndarray:
    """(n,) bool: original faces whose triangle (same three points, any order) is in ``repaired``."""
    before = _triangle_keys(original.vertices[original.faces])
    after = _triangle_keys(repaired.vertices[repaired.faces])
    return np.isin(before, after)


def _triangle_keys(triangles: np.ndarray) -> np.ndarray:
    """(n,) void: an order-independent exact key per (n, 3, 3) float triangle."""
    tri = np.ascontiguousarray(triangles, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    order = np.lexsort((tri[:, :, 2], tri[:, :, 1], tri[:, :, 0]), axis=1)
    tri = np.take_along_axis(tri, order[:, :, None], axis=1).reshape(len(tri), 9)
    tri = np.ascontiguousarray(tri)
    return tri.view(np.dtype((np.void, tri.dtype.itemsize * 9))).ravel()


def _diagonal(mesh: trimesh.Trimesh) -> float:
    bounds = np.ptp(mesh.vertices[np.unique(mesh.faces)], axis=0) if len(mesh.faces) else np.zeros(3)
    return float(np.linalg.norm(bounds)) or 1.0


def _sample(
    mesh: trimesh.Trimesh, mask: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """((count, 3) float points, (count,) int face index): area-weighted on the faces in ``mask``."""
    index = np.nonzero(mask)[0]
    weights = mesh.area_faces[index]
    if weights.sum() <= 0:
        weights = np.ones(len(index))
    chosen = index[rng.choice(len(index), size=count, p=weights / weights.sum())]
    tri = mesh.vertices[mesh.faces[chosen]]
    uv = rng.random((count, 2))
    flip = uv.sum(axis=1) > 1.0
    uv[flip] = 1.0 - uv[flip]
    points = tri[:, 0] + uv[:, :1] * (tri[:, 1] - tri[:, 0]) + uv[:, 1:] * (tri[:, 2] - tri[:, 0])
    return points, chosen


def _sampled_share(
    original: trimesh.Trimesh, mask: np.ndarray, repaired: trimesh.Trimesh, limit: float, tol: RepairTol,
    count: int | None = None,
) -> float:
    """Share of sample points on ``original[mask]`` within ``limit`` of ``repaired``."""
    rng = np.random.default_rng(_SEED)
    points, _ = _sample(original, mask, count or tol.coverage_samples, rng)
    reach = _reaching_faces(repaired, points, limit)
    if not reach.any():
        return 0.0
    area = float(repaired.area_faces[reach].sum())
    dense_count = int(min(tol.coverage_dense_cap, max(1000, _DENSITY * area / max(limit, 1e-300) ** 2)))
    dense, dense_face = _sample(repaired, reach, dense_count, rng)
    spacing = float(np.sqrt(area / dense_count))
    tree = cKDTree(dense)
    distance, _ = tree.query(points, distance_upper_bound=limit + 3.0 * spacing)
    near = distance <= limit
    # past limit + 3 sample spacings a point is taken as uncovered without an exact check
    unsure = np.nonzero(~near & np.isfinite(distance))[0]
    if len(unsure) > tol.coverage_exact_cap:
        picked = rng.choice(unsure, size=tol.coverage_exact_cap, replace=False)
        exact = _exact_distance(repaired, points[picked], tree, dense_face) <= limit
        return float((near.sum() + exact.mean() * len(unsure)) / len(points))
    if len(unsure) == 0:
        return float(near.mean())
    exact = _exact_distance(repaired, points[unsure], tree, dense_face) <= limit
    return float((near.sum() + exact.sum()) / len(points))


def _reaching_faces(mesh: trimesh.Trimesh, points: np.ndarray, limit: float) -> np.ndarray:
    """(f,) bool: faces of ``mesh`` some point of which may lie within ``limit`` of ``points``.

    A face lies within its circumradius about its centroid (``radius``), so a face whose centroid
    is farther than ``limit + radius`` from every point cannot matter; the test is exact, not a
    heuristic, and keeps dense sampling to the neighbourhood of what changed.
    """
    tri = mesh.vertices[mesh.faces]
    centre = tri.mean(axis=1)
    radius = np.sqrt(((tri - centre[:, None, :]) ** 2).sum(axis=2).max(axis=1))
    distance, _ = cKDTree(points).query(centre, distance_upper_bound=limit + float(radius.max()) + 1e-12)
    return distance <= limit + radius + 1e-12


def points_near(mesh: trimesh.Trimesh, points: np.ndarray, limit: float, max_pairs: int = 200_000) -> np.ndarray:
    """(n,) bool: points within ``limit`` of ``mesh``'s surface, measured exactly against every
    face whose centroid is close enough for that; all True when that is more than ``max_pairs``
    point-face pairs (undecided: a quick reject test, never a false "far")."""
    if len(mesh.faces) == 0 or len(points) == 0:
        return np.zeros(len(points), dtype=bool)
    tri = mesh.vertices[mesh.faces]
    centre = tri.mean(axis=1)
    reach = limit + float(np.sqrt(((tri - centre[:, None, :]) ** 2).sum(axis=2).max())) + 1e-12
    tree = cKDTree(centre)
    counts = tree.query_ball_point(points, reach, return_length=True)
    if counts.sum() > max_pairs:
        return np.ones(len(points), dtype=bool)
    near = tree.query_ball_point(points, reach)
    point = np.repeat(np.arange(len(points)), counts)
    face = np.fromiter((f for found in near for f in found), dtype=np.int64, count=int(counts.sum()))
    best = np.full(len(points), np.inf)
    if len(face):
        closest = trimesh.triangles.closest_point(tri[face], points[point])
        np.minimum.at(best, point, np.linalg.norm(closest - points[point], axis=1))
    return best <= limit


def _exact_distance(
    mesh: trimesh.Trimesh, points: np.ndarray, tree: cKDTree, sample_face: np.ndarray
) -> np.ndarray:
    """(n,) float: distance from each point to the nearest of the faces of its nearest samples."""
    k = min(_NEIGHBOURS, len(sample_face))
    _, nearest = tree.query(points, k=k)
    faces = sample_face[nearest.reshape(len(points), -1)]
    tri = mesh.vertices[mesh.faces[faces.ravel()]]
    repeated = np.repeat(points, faces.shape[1], axis=0)
    closest = trimesh.triangles.closest_point(tri, repeated)
    distance = np.linalg.norm(closest - repeated, axis=1).reshape(len(points), -1)
    return distance.min(axis=1)
