"""Sprite image -> 2D triangle mesh with UVs and edges (seed 002), enclosing every opaque pixel.

Steps: alpha mask -> islands and holes traced on pixel corners -> simplification that only
moves the outline outward (away from the solid) -> Triangle with quality refinement and no
Steiner points on the outline -> hull-first vertex order, UVs, edges and metadata.

Coordinates are pixels from the image's top-left corner, pixel (col, row) covering
[col, col+1] x [row, row+1]; UVs are (x / width, y / height), origin top-left, within [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import triangle

from pipelines.contour_params import TOL, ContourParams
from pipelines.errors import InputError, PipelineError
from pipelines.image_io import load_rgba
from pipelines.limits import LIMITS, Limits
from pipelines.progress import Progress, no_progress


@dataclass
class Ring:
    """A closed outline, ``(n, 2) float`` pixel-corner points with the solid on the left."""

    points: np.ndarray
    is_hole: bool
    island: int


@dataclass
class Mesh:
    """Triangulated outline: hull loops first; ``loops`` index into ``vertices``."""

    vertices: np.ndarray   # (n, 2) float
    triangles: np.ndarray  # (t, 3) int
    loops: list[np.ndarray]


# ---------------------------------------------------------------- entry points


def mesh_sprite(data: bytes, params: ContourParams | None = None, *, progress: Progress = no_progress,
                limits: Limits = LIMITS) -> dict:
    """Mesh one image's bytes; the result per seed 002 (vertices, triangles, uvs, edges, metadata)."""
    params = params or ContourParams()
    progress(10, "Loading image...")
    rgba = load_rgba(data, limits)
    return mesh_rgba(rgba, params, progress=progress)


def mesh_sprite_batch(items: Sequence[tuple[str, bytes]], params: ContourParams | None = None, *,
                      progress: Progress = no_progress, limits: Limits = LIMITS) -> list[dict]:
    """Mesh several images; each entry is ``{"name", "result"}`` or ``{"name", "error"}``."""
    out: list[dict] = []
    for done, (name, data) in enumerate(items):
        try:
            out.append({"name": name, "result": mesh_sprite(data, params, limits=limits)})
        except PipelineError as exc:
            out.append({"name": name, "error": exc.as_dict()})
        progress(100 * (done + 1) // max(len(items), 1), f"Meshed {done + 1}/{len(items)}: {name}")
    return out


def mesh_rgba(rgba: np.ndarray, params: ContourParams, *, progress: Progress = no_progress) -> dict:
    """Mesh an ``(h, w, 4) uint8`` RGBA array."""
    height, width = rgba.shape[:2]
    alpha = rgba[..., 3]
    progress(20, "Creating mask...")
    mask = build_mask(alpha, params)
    progress(30, "Processing contours...")
    mask = clean_mask(mask, params)
    progress(40, "Finding contours...")
    rings = trace_rings(mask)
    progress(50, "Simplifying contours...")
    outline = simplify_within_budget(rings, params, width, height)
    progress(70, "Triangulating mesh...")
    mesh = triangulate(outline, params)
    progress(85, "Generating UV coordinates...")
    uvs = mesh.vertices / np.array([width, height], dtype=float)
    progress(95, "Calculating edges...")
    boundary, internal = mesh_edges(mesh)
    metadata = _metadata(mesh, outline, alpha, params, width, height)
    progress(100, "Mesh generation complete")
    return {
        "vertices": _round(mesh.vertices), "triangles": mesh.triangles.tolist(),
        "uvs": _round(np.clip(uvs, 0.0, 1.0), 6), "boundary_edges": boundary.tolist(),
        "internal_edges": internal.tolist(), "hull": int(sum(len(loop) for loop in mesh.loops)),
        "metadata": metadata,
    }


def _round(array: np.ndarray, digits: int = 4) -> list:
    """JSON-friendly nested lists with bounded float noise."""
    return np.round(array, digits).tolist()


# ---------------------------------------------------------------- mask


def build_mask(alpha: np.ndarray, params: ContourParams) -> np.ndarray:
    """``(h, w) bool``: alpha >= threshold, grown by blur, concave closing and padding."""
    mask = alpha >= params.alpha_threshold
    if not mask.any():
        raise InputError("CONTOUR_NOT_FOUND", "no pixel at or above the alpha threshold",
                         {"alpha_threshold": params.alpha_threshold, "max_alpha": int(alpha.max())})
    if params.blur_kernel_size > 1:
        k = params.blur_kernel_size
        blurred = cv2.GaussianBlur(mask.astype(np.uint8) * 255, (k, k), 0)
        mask |= blurred >= max(params.binary_threshold, 1)
    if params.concave_factor > 0:
        mask = _morph(mask, cv2.MORPH_CLOSE, params.concave_factor)
    if params.padding_px > 0:
        mask = _morph(mask, cv2.MORPH_DILATE, params.padding_px)
    return mask


def _morph(mask: np.ndarray, op: int, radius: float) -> np.ndarray:
    """Closing or dilation with a disc, computed on a zero-padded copy so borders are neutral."""
    r = max(1, round(radius))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    return cv2.morphologyEx(padded, op, kernel)[r:-r, r:-r].astype(bool)


def clean_mask(mask: np.ndarray, params: ContourParams) -> np.ndarray:
    """Drop islands under ``min_contour_area`` (never all), fill small holes (all when holes=False)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = areas >= params.min_contour_area
    if not params.all_islands or not keep.any():
        keep = np.zeros_like(keep)
        keep[np.argmax(areas)] = True
    lut = np.concatenate([[False], keep])
    mask = lut[labels]
    return _fill_holes(mask, params.min_contour_area if params.holes else math.inf)


def _fill_holes(mask: np.ndarray, min_area: float) -> np.ndarray:
    """Fill background components that do not touch the border and have fewer than min_area px."""
    background = (~mask).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    x, y, w, h, area = (stats[:, i] for i in range(5))
    inner = (x > 0) & (y > 0) & (x + w < mask.shape[1]) & (y + h < mask.shape[0])
    fill = inner & (area < min_area)
    fill[0] = False
    return mask | fill[labels]


# ---------------------------------------------------------------- tracing


def trace_rings(mask: np.ndarray) -> list[Ring]:
    """Outer rings then holes of the union of opaque pixel squares, on pixel corners."""
    corners = _corner_grid(mask)
    padded = cv2.copyMakeBorder(corners, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        raise InputError("CONTOUR_NOT_FOUND", "no contour found in the mask")
    parents = hierarchy[0][:, 3]
    island_of = {int(i): n for n, i in enumerate(np.flatnonzero(parents < 0))}
    rings = []
    for i in [*island_of, *np.flatnonzero(parents >= 0).tolist()]:
        points = contours[i].reshape(-1, 2).astype(float) - 1.0
        hole = bool(parents[i] >= 0)
        if len(points) >= 3 and abs(signed_area(points)) > 0:
            rings.append(Ring(_orient(points, hole), hole, island_of[int(parents[i])] if hole else island_of[i]))
    return rings


def _corner_grid(mask: np.ndarray) -> np.ndarray:
    """``(h+1, w+1) uint8``: a corner is set when any of its four pixels is; no diagonal pinches."""
    p = np.pad(mask, 1)
    grid = p[:-1, :-1] | p[1:, :-1] | p[:-1, 1:] | p[1:, 1:]
    while True:
        a, b, c, d = grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]
        pinch = (a & d & ~b & ~c) | (b & c & ~a & ~d)
        if not pinch.any():
            return grid.astype(np.uint8)
        fill = np.zeros_like(grid)
        for dy in (0, 1):
            for dx in (0, 1):
                fill[dy:dy + pinch.shape[0], dx:dx + pinch.shape[1]] |= pinch
        grid |= fill


def signed_area(points: np.ndarray) -> float:
    """Shoelace area; positive when the interior is on the left of the walk (x right, y down)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _orient(points: np.ndarray, hole: bool) -> np.ndarray:
    """Orient so the solid is on the left: outer rings positive area, holes negative."""
    positive = signed_area(points) > 0
    return points if positive != hole else points[::-1].copy()


# ---------------------------------------------------------------- outward simplification


def simplify_within_budget(rings: list[Ring], params: ContourParams, width: int, height: int) -> list[Ring]:
    """Simplify every ring, growing the tolerance until the outline fits ``max_vertices``."""
    scale = 1.0
    if 3 * len(rings) > params.max_vertices:
        raise InputError("TRIANGULATION_FAILED", "more outlines than max_vertices allows",
                         {"rings": len(rings), "minimum_required": 3 * len(rings),
                          "max_vertices": params.max_vertices})
    for _ in range(TOL.budget_retries):
        outline = simplify_rings(rings, params, width, height, scale)
        count = sum(len(r.points) for r in outline)
        if count <= params.max_vertices:
            return outline
        scale *= TOL.budget_growth
    raise InputError("TRIANGULATION_FAILED", "outline needs more vertices than max_vertices",
                     {"vertex_count": count, "max_vertices": params.max_vertices, "rings": len(outline)})


def simplify_rings(rings: list[Ring], params: ContourParams, width: int, height: int,
                   scale: float = 1.0) -> list[Ring]:
    """Simplify each ring with its island's tolerance; rings that would cross others stay finer."""
    diag = _island_diagonals(rings)
    tols = [scale * _tolerance(min(diag[r.island], _diagonal(r.points) if r.is_hole else math.inf), params)
            for r in rings]
    out = [Ring(simplify_ring(r.points, t, width, height), r.is_hole, r.island)
           for r, t in zip(rings, tols, strict=True)]
    for _ in range(8):
        bad = _crossing_rings([r.points for r in out])
        if not bad:
            break
        for i in bad:
            tols[i] /= 2
            pts = rings[i].points if tols[i] < TOL.min_tolerance_px else None
            out[i].points = pts if pts is not None else simplify_ring(rings[i].points, tols[i], width, height)
    else:
        out = [Ring(r.points.copy(), r.is_hole, r.island) for r in rings]
    return out


def _island_diagonals(rings: list[Ring]) -> dict[int, float]:
    """Bounding-box diagonal of each island's outer ring."""
    return {r.island: _diagonal(r.points) for r in rings if not r.is_hole}


def _diagonal(points: np.ndarray) -> float:
    """Bounding-box diagonal."""
    return float(np.hypot(*(points.max(axis=0) - points.min(axis=0))))


def _tolerance(diagonal: float, params: ContourParams) -> float:
    """Simplification tolerance in pixels: smaller for higher detail_factor."""
    tol = TOL.detail_scale * diagonal / params.detail_factor
    return min(max(tol, TOL.min_tolerance_px), TOL.max_tolerance_px)


def simplify_ring(ring: np.ndarray, tol: float, width: int, height: int) -> np.ndarray:
    """Fewer points whose polygon contains the ring's solid; falls back to finer tolerances."""
    while tol >= TOL.min_tolerance_px:
        candidate = _offset_simplify(ring, tol, width, height)
        if candidate is not None and _encloses(candidate, ring):
            return candidate
        tol /= 2
    return ring


def _offset_simplify(ring: np.ndarray, tol: float, width: int, height: int) -> np.ndarray | None:
    """Douglas-Peucker, then push each kept edge outward past every point it replaced."""
    keep = _dp_indices(ring, tol)
    if len(keep) < 3:
        return None
    ring = np.roll(ring, -keep[0], axis=0)
    keep = keep - keep[0]
    anchors = ring[keep]
    direction = np.roll(anchors, -1, axis=0) - anchors
    length = np.linalg.norm(direction, axis=1)
    if (length <= 0).any():
        return None
    u = direction / length[:, None]
    normal = np.stack([u[:, 1], -u[:, 0]], axis=1)  # right side = away from the solid
    span = np.searchsorted(keep, np.arange(len(ring)), side="right") - 1
    offset = _span_offsets(ring, anchors, normal, u, keep, span)
    points = _join_lines(anchors, u, normal, offset, tol, _bevel_offsets(ring, anchors, normal, keep, span))
    return _drop_repeats(clip_to_box(points, width, height))


def _span_offsets(ring: np.ndarray, anchors: np.ndarray, normal: np.ndarray, u: np.ndarray,
                  keep: np.ndarray, span: np.ndarray) -> np.ndarray:
    """How far each kept edge must move outward to pass its own points, and at convex corners
    also its neighbours' points (there the outline is the intersection of both half-planes)."""
    m = len(anchors)

    def reach(shift: int) -> np.ndarray:
        line = (span + shift) % m
        dist = np.einsum("ij,ij->i", ring - anchors[line], normal[line])
        return np.maximum.reduceat(dist, keep)  # per span of the points

    own = np.maximum(reach(0), 0.0)
    u_prev = np.roll(u, 1, axis=0)
    convex = (u_prev[:, 0] * u[:, 1] - u_prev[:, 1] * u[:, 0]) > 0   # at anchor i
    from_prev = np.roll(reach(1), 1)    # span i-1's points against line i
    from_next = np.roll(reach(-1), -1)  # span i+1's points against line i
    convex_next = np.roll(convex, -1)   # corner at anchor i+1
    offset = np.where(convex, np.maximum(own, from_prev), own)
    return np.where(convex_next, np.maximum(offset, from_next), offset)


def _dp_indices(ring: np.ndarray, tol: float) -> np.ndarray:
    """Indices (sorted) of the points cv2.approxPolyDP keeps on the closed ring."""
    approx = cv2.approxPolyDP(ring.astype(np.float32).reshape(-1, 1, 2), tol, True).reshape(-1, 2)
    lookup = {(float(x), float(y)): i for i, (x, y) in enumerate(ring)}
    idx = [lookup.get((float(x), float(y))) for x, y in approx]
    if any(i is None for i in idx):
        return np.arange(len(ring))
    return np.unique(np.array(idx, dtype=int))


def _bisectors(normal: np.ndarray) -> np.ndarray:
    """Unit outward bisector at each anchor (between the previous edge's normal and this one's)."""
    bis = np.roll(normal, 1, axis=0) + normal
    length = np.linalg.norm(bis, axis=1, keepdims=True)
    return np.where(length > TOL.parallel_sin, bis / np.maximum(length, 1e-12), normal)


def _bevel_offsets(ring: np.ndarray, anchors: np.ndarray, normal: np.ndarray, keep: np.ndarray,
                   span: np.ndarray) -> np.ndarray:
    """How far out along its bisector a bevel at each anchor must sit to pass both spans' points."""
    m = len(anchors)
    bis = _bisectors(normal)
    start = np.einsum("ij,ij->i", ring - anchors[span], bis[span])
    nxt = (span + 1) % m
    end = np.einsum("ij,ij->i", ring - anchors[nxt], bis[nxt])
    return np.maximum(np.maximum(np.maximum.reduceat(start, keep), np.roll(np.maximum.reduceat(end, keep), 1)), 0)


def _meet(n1: np.ndarray, c1: np.ndarray, n2: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Points x with n1.x = c1 and n2.x = c2, row-wise (Cramer's rule)."""
    det = n1[:, 0] * n2[:, 1] - n1[:, 1] * n2[:, 0]
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    return np.stack([(c1 * n2[:, 1] - c2 * n1[:, 1]) / det, (n1[:, 0] * c2 - n2[:, 0] * c1) / det], axis=1)


def _join_lines(anchors: np.ndarray, u: np.ndarray, normal: np.ndarray, offset: np.ndarray,
                tol: float, bevel_offset: np.ndarray) -> np.ndarray:
    """Corner points of consecutive offset lines: miters, bevelled when long or near-parallel."""
    u_prev, n_prev, d_prev = np.roll(u, 1, axis=0), np.roll(normal, 1, axis=0), np.roll(offset, 1)
    a = anchors + d_prev[:, None] * n_prev       # on the previous offset line
    b = anchors + offset[:, None] * normal        # on this edge's offset line
    sin = u_prev[:, 0] * u[:, 1] - u_prev[:, 1] * u[:, 0]
    safe = np.where(np.abs(sin) < TOL.parallel_sin, 1.0, sin)
    ba = b - a
    t = (ba[:, 0] * u[:, 1] - ba[:, 1] * u[:, 0]) / safe
    miter = a + t[:, None] * u_prev
    reach = np.linalg.norm(miter - anchors, axis=1)
    limit = TOL.bevel_ratio * (tol + np.maximum(offset, d_prev)) + 1.0
    bevel = (np.abs(sin) < TOL.parallel_sin) | (reach > limit)
    convex = bevel & (sin > TOL.parallel_sin)
    if convex.any():
        bis = _bisectors(normal)
        ob = np.einsum("ij,ij->i", anchors, bis) + bevel_offset
        a = np.where(convex[:, None], _meet(n_prev, np.einsum("ij,ij->i", a, n_prev), bis, ob), a)
        b = np.where(convex[:, None], _meet(normal, np.einsum("ij,ij->i", b, normal), bis, ob), b)
    out: list[np.ndarray] = []
    for i in range(len(anchors)):
        if bevel[i]:
            out.extend((a[i], b[i]))
        else:
            out.append(miter[i])
    return np.array(out)


def clip_to_box(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland-Hodgman clip of a ring to [0, width] x [0, height] (exact, so still a superset)."""
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        if not len(points):
            break
        side = points[:, axis] - bound
        inside = side <= 0 if keep_below else side >= 0
        if inside.all():
            continue
        out = []
        for i in range(len(points)):
            j = (i + 1) % len(points)
            if inside[i]:
                out.append(points[i])
            if inside[i] != inside[j]:
                t = side[i] / (side[i] - side[j])
                out.append(points[i] + t * (points[j] - points[i]))
        points = np.array(out).reshape(-1, 2)
    return points


def _drop_repeats(points: np.ndarray) -> np.ndarray | None:
    """Remove consecutive duplicates and collinear points; None when fewer than 3 remain."""
    if len(points) < 3:
        return None
    keep = np.linalg.norm(points - np.roll(points, 1, axis=0), axis=1) > TOL.geom_eps
    points = points[keep]
    if len(points) < 3:
        return None
    prev, nxt = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    cross = (points[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1]) - \
        (points[:, 1] - prev[:, 1]) * (nxt[:, 0] - prev[:, 0])
    points = points[np.abs(cross) > TOL.geom_eps]
    return points if len(points) >= 3 else None


# ---------------------------------------------------------------- geometry predicates


def _encloses(candidate: np.ndarray, ring: np.ndarray) -> bool:
    """Whether the simple polygon ``candidate`` contains the solid side of ``ring``."""
    if _self_crossing(candidate) or (signed_area(candidate) > 0) != (signed_area(ring) > 0):
        return False
    hole = signed_area(ring) < 0
    outer, inner = (ring, candidate) if hole else (candidate, ring)
    inside, _ = points_in_polygon(inner, outer)
    _, strictly = points_in_polygon(outer, inner)
    return bool(inside.all() and not strictly.any())


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inside or on the boundary, strictly inside) per point, ``(n,) bool`` each."""
    a = polygon[None, :, :]
    b = np.roll(polygon, -1, axis=0)[None, :, :]
    p = points[:, None, :]
    ab, ap = b - a, p - a
    cross = ab[..., 0] * ap[..., 1] - ab[..., 1] * ap[..., 0]
    dot = (ab * ap).sum(-1)
    length2 = (ab * ab).sum(-1)
    on_edge = (np.abs(cross) <= TOL.geom_eps * np.sqrt(length2)) & (dot >= -TOL.geom_eps) & \
        (dot <= length2 + TOL.geom_eps)
    on = on_edge.any(axis=1)
    ay, by, py = a[..., 1], b[..., 1], p[..., 1]
    straddle = (ay <= py) != (by <= py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = a[..., 0] + (py - ay) * ab[..., 0] / ab[..., 1]
    crossings = (straddle & (x_cross > p[..., 0])).sum(axis=1)
    strictly = (crossings % 2 == 1) & ~on
    return strictly | on, strictly


def _segments(points: np.ndarray) -> np.ndarray:
    """``(n, 2, 2)`` closed-ring segments."""
    return np.stack([points, np.roll(points, -1, axis=0)], axis=1)


def _proper_crossings(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(len(s), len(t)) bool``: segments that cross or touch, shared endpoints included."""
    p, r = s[:, None, 0], s[:, None, 1] - s[:, None, 0]
    q, v = t[None, :, 0], t[None, :, 1] - t[None, :, 0]

    def cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x[..., 0] * y[..., 1] - x[..., 1] * y[..., 0]

    d1, d2 = cross(r, q - p), cross(r, q + v - p)
    d3, d4 = cross(v, p - q), cross(v, p + r - q)
    eps = TOL.geom_eps
    proper = (((d1 > eps) & (d2 < -eps)) | ((d1 < -eps) & (d2 > eps))) & \
        (((d3 > eps) & (d4 < -eps)) | ((d3 < -eps) & (d4 > eps)))
    touching = ((np.abs(d1) <= eps) | (np.abs(d2) <= eps) | (np.abs(d3) <= eps) | (np.abs(d4) <= eps))
    boxes = (np.minimum(s[:, None, 0], s[:, None, 1]) <= np.maximum(t[None, :, 0], t[None, :, 1]) + eps).all(-1) \
        & (np.minimum(t[None, :, 0], t[None, :, 1]) <= np.maximum(s[:, None, 0], s[:, None, 1]) + eps).all(-1)
    return proper | (touching & boxes)


def _self_crossing(points: np.ndarray) -> bool:
    """Whether a closed ring's non-adjacent edges touch or cross."""
    seg = _segments(points)
    hits = _proper_crossings(seg, seg)
    n = len(points)
    idx = np.arange(n)
    hits[idx, idx] = False
    hits[idx, (idx + 1) % n] = False
    hits[(idx + 1) % n, idx] = False
    return bool(hits.any())


def _crossing_rings(rings: list[np.ndarray]) -> set[int]:
    """Indices of rings whose edges touch or cross another ring's."""
    boxes = np.array([[*r.min(axis=0), *r.max(axis=0)] for r in rings])
    bad: set[int] = set()
    for i in range(len(rings)):
        near = np.flatnonzero((boxes[i + 1:, 0] <= boxes[i, 2]) & (boxes[i + 1:, 2] >= boxes[i, 0])
                              & (boxes[i + 1:, 1] <= boxes[i, 3]) & (boxes[i + 1:, 3] >= boxes[i, 1]))
        for j in near + i + 1:
            if _proper_crossings(_segments(rings[i]), _segments(rings[j])).any():
                bad.update((i, int(j)))
    return bad


# ---------------------------------------------------------------- triangulation


def triangulate(outline: list[Ring], params: ContourParams) -> Mesh:
    """Constrained quality triangulation of the outline; boundary loops first, in ring order."""
    vertices = np.concatenate([r.points for r in outline])
    segments = _ring_segments([len(r.points) for r in outline])
    holes = _hole_points(vertices, segments, outline)
    budget = max(params.max_vertices - len(vertices), 0)
    area = _max_area(outline, params)
    for angle in TOL.angle_ladder:
        result = _run_triangle(vertices, segments, holes, angle, area, budget)
        if _smallest_refined(result, len(vertices)) >= params.min_triangle_area or angle == 0:
            break
    return _hull_first(result["vertices"], result["triangles"])


def _ring_segments(sizes: list[int]) -> np.ndarray:
    """``(n, 2) int`` edges closing each consecutive ring."""
    out, start = [], 0
    for n in sizes:
        idx = np.arange(start, start + n)
        out.append(np.stack([idx, np.roll(idx, -1)], axis=1))
        start += n
    return np.concatenate(out)


def _hole_points(vertices: np.ndarray, segments: np.ndarray, outline: list[Ring]) -> np.ndarray | None:
    """Centroids of the plain triangulation's triangles that lie outside the solid (winding 0)."""
    plain = triangle.triangulate({"vertices": vertices, "segments": segments}, "pQ")
    if "triangles" not in plain:
        raise InputError("TRIANGULATION_FAILED", "Triangle produced no triangles",
                         {"vertex_count": len(vertices)})
    centroids = plain["vertices"][plain["triangles"]].mean(axis=1)
    outside = winding_numbers(centroids, [r.points for r in outline]) == 0
    return centroids[outside] if outside.any() else None


def winding_numbers(points: np.ndarray, rings: list[np.ndarray]) -> np.ndarray:
    """``(n,) int`` winding number of each point over rings (solid-left orientation = +1)."""
    total = np.zeros(len(points), dtype=int)
    for ring in rings:
        lo, hi = ring.min(axis=0), ring.max(axis=0)
        sel = np.flatnonzero(((points >= lo) & (points <= hi)).all(axis=1))
        if not len(sel):
            continue
        p = points[sel][:, None, :]
        a, b = ring[None], np.roll(ring, -1, axis=0)[None]
        side = (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0])
        up = (a[..., 1] <= p[..., 1]) & (b[..., 1] > p[..., 1]) & (side > 0)
        down = (a[..., 1] > p[..., 1]) & (b[..., 1] <= p[..., 1]) & (side < 0)
        total[sel] += up.sum(axis=1) - down.sum(axis=1)
    return total


def _max_area(outline: list[Ring], params: ContourParams) -> float | None:
    """Triangle's area constraint for interior vertices, or None when density is 0."""
    if params.internal_vertex_density <= 0:
        return None
    return max(params.density_scaling_factor / params.internal_vertex_density, params.min_triangle_area)


def _run_triangle(vertices: np.ndarray, segments: np.ndarray, holes: np.ndarray | None, angle: float,
                  area: float | None, budget: int) -> dict:
    """One Triangle call: 'p' PSLG, 'YY' no Steiner points on segments, 'S' Steiner budget."""
    opts = f"pQYYS{budget}"
    if angle > 0:
        opts += f"q{angle:g}"
    if area is not None:
        opts += f"a{area:g}"
    data = {"vertices": vertices, "segments": segments}
    if holes is not None:
        data["holes"] = holes
    result = triangle.triangulate(data, opts)
    if "triangles" not in result or not len(result["triangles"]):
        raise InputError("TRIANGULATION_FAILED", "Triangle produced no triangles",
                         {"vertex_count": len(vertices), "options": opts})
    return result


def _smallest_refined(result: dict, fixed: int) -> float:
    """Smallest area among triangles that use a Steiner (refinement) vertex; inf when none."""
    tris = result["triangles"]
    refined = (tris >= fixed).any(axis=1)
    if not refined.any():
        return math.inf
    return float(triangle_areas(result["vertices"], tris[refined]).min())


def triangle_areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(t,) float`` unsigned areas."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    return 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _hull_first(vertices: np.ndarray, triangles: np.ndarray) -> Mesh:
    """Reorder so boundary loops come first in walk order, then interior vertices; drop unused."""
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    pairs = {(int(a), int(b)) for a, b in directed}
    following: dict[int, list[int]] = {}
    for a, b in sorted(pairs):
        if (b, a) not in pairs:
            following.setdefault(a, []).append(b)
    loops = []
    for start in sorted(following):
        while following.get(start):
            loop, v = [], start
            while following.get(v):
                loop.append(v)
                v = following[v].pop(0)
            loops.append(loop)
    order = list(dict.fromkeys(v for loop in loops for v in loop))
    on_hull = set(order)
    order += [int(v) for v in np.unique(triangles) if int(v) not in on_hull]
    remap = np.full(len(vertices), -1, dtype=int)
    remap[order] = np.arange(len(order))
    new_loops = [remap[np.array(loop)] for loop in loops]
    return Mesh(vertices[order], remap[triangles], new_loops)


def mesh_edges(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """(boundary edges in loop order, other undirected edges), ``(k, 2) int`` each."""
    boundary = np.concatenate([np.stack([loop, np.roll(loop, -1)], axis=1) for loop in mesh.loops])
    tris = mesh.triangles
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    edges = np.unique(edges, axis=0)
    on_hull = {tuple(sorted(map(int, e))) for e in boundary}
    internal = np.array([e for e in edges.tolist() if tuple(e) not in on_hull], dtype=int).reshape(-1, 2)
    return boundary, internal


# ---------------------------------------------------------------- metrics


def min_angles(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(t,) float`` smallest interior angle of each triangle, degrees."""
    p = vertices[triangles]
    e = [p[:, (i + 1) % 3] - p[:, i] for i in range(3)]
    angles = []
    for i in range(3):
        a, b = e[i], -e[(i + 2) % 3]
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.min(angles, axis=0)


def rasterize_loops(loops: list[np.ndarray], width: int, height: int, scale: int) -> np.ndarray:
    """``(height*scale, width*scale) bool``: sample centres inside the loops (even-odd rule)."""
    a = np.concatenate([loop for loop in loops]) * scale
    b = np.concatenate([np.roll(loop, -1, axis=0) for loop in loops]) * scale
    rows_h = height * scale
    y0, y1 = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    first = np.ceil(y0 - 0.5).astype(int).clip(0, rows_h)
    last = np.ceil(y1 - 0.5).astype(int).clip(0, rows_h)  # rows [first, last)
    counts = last - first
    edge = np.repeat(np.arange(len(a)), counts)
    row = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + first[edge]
    yc = row + 0.5
    t = (yc - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
    x = a[edge, 0] + t * (b[edge, 0] - a[edge, 0])
    order = np.lexsort((x, row))
    row, x = row[order], x[order]
    cols_w = width * scale
    col = np.ceil(x - 0.5).astype(int).clip(0, cols_w)
    diff = np.zeros((rows_h, cols_w + 1), dtype=np.int32)
    sign = np.where(np.arange(len(row)) % 2 == 0, 1, -1)
    np.add.at(diff, (row, col), sign)
    return np.cumsum(diff, axis=1)[:, :cols_w] > 0


def coverage_stats(loops: list[np.ndarray], alpha: np.ndarray, opaque_at: int, scale: int) -> dict:
    """Share of pixels with alpha >= opaque_at the mesh covers, and share of mesh area over alpha 0."""
    h, w = alpha.shape
    inside = rasterize_loops(loops, w, h, scale).reshape(h, scale, w, scale).mean(axis=(1, 3))
    opaque = alpha >= opaque_at
    area = inside.sum()
    return {
        "opaque_coverage": float(inside[opaque].mean()) if opaque.any() else 1.0,
        "wasted_area": float(inside[alpha == 0].sum() / area) if area > 0 else 0.0,
    }


def _metadata(mesh: Mesh, outline: list[Ring], alpha: np.ndarray, params: ContourParams,
              width: int, height: int) -> dict:
    """Counts, coverage of the thresholded pixels, wasted area and quality of the mesh."""
    scale = max(1, min(TOL.max_supersample, int(math.sqrt(TOL.coverage_samples / (width * height)))))
    loops = [mesh.vertices[loop] for loop in mesh.loops]
    stats = coverage_stats(loops, alpha, max(params.alpha_threshold, 1), scale)
    return {
        "width": width, "height": height,
        "vertex_count": len(mesh.vertices), "triangle_count": len(mesh.triangles),
        "hull_vertex_count": int(sum(len(loop) for loop in mesh.loops)),
        "islands": sum(not r.is_hole for r in outline), "holes": sum(r.is_hole for r in outline),
        "opaque_coverage": round(stats["opaque_coverage"], 6), "wasted_area": round(stats["wasted_area"], 6),
        "min_angle_deg": round(float(min_angles(mesh.vertices, mesh.triangles).min()), 3),
        "params": params.as_dict(),
    }
