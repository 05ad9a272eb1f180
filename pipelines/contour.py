"""Sprite image -> 2D triangle mesh with UVs and edges (seed 002), enclosing every opaque pixel.

Steps: alpha mask (max-pooled when large, ``pool_factor``) -> islands and holes traced on pixel
corners -> simplification that only moves the outline outward (away from the solid) -> Triangle
with quality refinement and no Steiner points on the outline -> hull-first vertex order, UVs,
edges and metadata (coverage and wasted area sampled, ``TOL.coverage_samples``; on small images
only the pixels the outline is not known to hold are sampled).

Coordinates are pixels from the image's top-left corner, pixel (col, row) covering
[col, col+1] x [row, row+1]; UVs are (x / width, y / height), origin top-left, within [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

import cv2
import numpy as np
import triangle

from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_refine import (
    MAX_BAD,
    improve,
    min_angles,
    triangle_areas,
    triangle_input,
    triangle_options,
)
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


GROUPED_SWEEP_PAIRS = 20_000  # past this many x-overlapping edge pairs the crossing sweep runs per ring group


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
    alpha = np.ascontiguousarray(rgba[..., 3])  # the strided view makes every full-image test ~5x slower
    outline, held, factor, closing_px = _outline_and_held(alpha, params, progress)
    progress(70, "Triangulating mesh...")
    mesh = triangulate(outline, params)
    progress(85, "Generating UV coordinates...")
    uvs = mesh.vertices / np.array([width, height], dtype=float)
    progress(95, "Calculating edges...")
    boundary, internal = mesh_edges(mesh)
    metadata = _metadata(mesh, outline, alpha, params, held, factor, closing_px)
    progress(100, "Mesh generation complete")
    return {
        "vertices": _round(mesh.vertices), "triangles": mesh.triangles.tolist(),
        "uvs": _round(np.clip(uvs, 0.0, 1.0), 6), "boundary_edges": boundary.tolist(),
        "internal_edges": internal.tolist(), "hull": int(sum(len(loop) for loop in mesh.loops)),
        "metadata": metadata,
    }


def sprite_outline(alpha: np.ndarray, params: ContourParams, *, progress: Progress = no_progress) -> list[Ring]:
    """The simplified outline in image pixels: every pixel of the cleaned mask is whole inside it.
    Large masks are traced and simplified on a max-pooled grid (``pool_factor``)."""
    return _outline_and_held(alpha, params, progress).rings


_Fit = tuple[list[Ring], np.ndarray, float]  # an outline within budget, the mask it holds, the closing radius


class _Outline(NamedTuple):
    """``sprite_outline``'s rings, the working mask they hold whole (cell (i, j) = image pixels
    ``[i f, (i + 1) f) x [j f, (j + 1) f)``), that pool factor f, and the closing radius (image
    pixels) the vertex budget needed (0: none; inf: the box around every kept pixel)."""

    rings: list[Ring]
    held: np.ndarray
    factor: int
    closing_px: float


def _outline_and_held(alpha: np.ndarray, params: ContourParams, progress: Progress = no_progress) -> _Outline:
    """``sprite_outline`` and what it was made from (``_Outline``)."""
    height, width = alpha.shape
    progress(20, "Creating mask...")
    mask = build_mask(alpha, params)
    factor, pooled = _pooled(mask, params)
    progress(30, "Processing contours...")
    mask = clean_mask(pooled, params, factor * factor)
    progress(40, "Finding contours...")
    rings = trace_rings(mask, min_hole_area=params.min_contour_area / (factor * factor))
    progress(50, "Simplifying contours...")
    radius = 0.0
    try:
        outline = simplify_within_budget(rings, params, mask.shape[1], mask.shape[0], unit=factor, solid=mask)
    except OverBudget as exc:
        outline, mask, radius = _closed_within_budget(pooled, mask, params, factor, exc)
    return _Outline(unpool_rings(outline, factor, width, height), mask, factor, radius * factor)


def _closed_within_budget(pooled: np.ndarray, kept: np.ndarray, params: ContourParams, factor: int,
                          first: OverBudget) -> _Fit:
    """When the outline cannot fit ``max_vertices`` at any tolerance (more islands than the budget has
    vertices for, or shapes whose outward simplification stops shrinking), close the working mask
    (``pooled``, before cleaning) with a disc of doubling radius, as a larger ``concave_factor`` would:
    islands merge and concavities fill (more wasted area, never less coverage) until the cleaned
    outline fits; then bisect between that radius and the last that did not. When no radius up to
    the mask's size fits, the outline is the box around every pixel of ``kept`` (``pooled`` cleaned,
    as the caller has it; radius inf) if the budget has its four vertices, else ``OverBudget`` with
    the fewest vertices any attempt needed. Returns the outline, the mask it holds and the radius
    (working pixels)."""
    fewest = _needed(first)

    def attempt(radius: float) -> _Fit | None:
        nonlocal fewest
        closed = clean_mask(pooled | _closing(pooled, radius), params, factor * factor)
        rings = trace_rings(closed, min_hole_area=params.min_contour_area / (factor * factor))
        try:
            return simplify_within_budget(rings, params, closed.shape[1], closed.shape[0], unit=factor,
                                          solid=closed, steps=TOL.budget_closing_steps), closed, radius
        except OverBudget as exc:
            fewest = min(fewest, _needed(exc))
            return None

    radius, low = TOL.budget_closing_start, 0.0
    while radius <= max(pooled.shape):
        if (fits := attempt(radius)) is not None:
            return _bisect_down(attempt, low, fits)
        low, radius = radius, radius * 2
    if params.max_vertices >= 4:  # the last resort: the box around every kept pixel
        box = _box_mask(kept)
        return trace_rings(box), box, math.inf
    raise OverBudget("TRIANGULATION_FAILED", "no simplification or closing of the outline fits max_vertices",
                     {"vertex_count": fewest, "max_vertices": params.max_vertices,
                      "closing_px_tried": radius / 2 * factor})


def _bisect_down(attempt: Callable[[float], _Fit | None], low: float, fits: _Fit) -> _Fit:
    """``fits`` (whose last item is its radius) or what ``attempt`` gives for a smaller radius above
    ``low`` (which did not fit), after ``TOL.budget_closing_bisections`` halvings at most."""
    for _ in range(TOL.budget_closing_bisections):
        mid = (low + fits[-1]) / 2
        if mid - low < 1:
            break
        if (smaller := attempt(mid)) is not None:
            fits = smaller
        else:
            low = mid
    return fits


def _box_mask(mask: np.ndarray) -> np.ndarray:
    """The bounding box of the mask's pixels, filled (traced as one four-corner ring)."""
    x, y, w, h = cv2.boundingRect(_as_u8(mask))
    box = np.zeros_like(mask)
    box[y:y + h, x:x + w] = True
    return box


def _needed(exc: OverBudget) -> int:
    """The vertices an over-budget outline needed (at least)."""
    return int(exc.details.get("vertex_count", exc.details.get("minimum_required", 0)))


def _closing(mask: np.ndarray, radius: float) -> np.ndarray:
    """Morphological closing with a Euclidean disc of ``radius`` pixels, outside the image empty,
    from two distance transforms (cost independent of the radius, unlike a kernel)."""
    r = math.ceil(radius)
    padded = cv2.copyMakeBorder(_as_u8(mask), r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    grown = cv2.distanceTransform(1 - padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= radius
    closed = cv2.distanceTransform(grown.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) > radius
    return closed[r:-r, r:-r]


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


def _as_u8(mask: np.ndarray) -> np.ndarray:
    """A mask as 0/1 uint8 for OpenCV: a view of a contiguous bool mask (no full-image copy)."""
    return mask.view(np.uint8) if mask.dtype == bool and mask.flags.c_contiguous else mask.astype(np.uint8)


def _morph(mask: np.ndarray, op: int, radius: float) -> np.ndarray:
    """Closing or dilation with a disc, computed on a zero-padded copy so borders are neutral."""
    r = max(1, round(radius))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    return cv2.morphologyEx(padded, op, kernel)[r:-r, r:-r].astype(bool)


def clean_mask(mask: np.ndarray, params: ContourParams, pixel_area: float = 1.0) -> np.ndarray:
    """Drop islands under ``min_contour_area`` (never all), fill small holes (all when holes=False).
    Areas are in image pixels; ``pixel_area`` is the image area of one ``mask`` pixel."""
    count, labels = cv2.connectedComponents(_as_u8(mask), connectivity=8)  # no stats: ~8x faster
    areas = np.bincount(labels[mask], minlength=count)[1:]  # counting only the mask's pixels
    keep = areas * pixel_area >= params.min_contour_area
    if not params.all_islands or not keep.any():
        keep = np.zeros_like(keep)
        keep[np.argmax(areas)] = True
    if not keep.all():
        mask = np.take(np.concatenate([[False], keep]), labels)  # np.take: a plain gather, ~3x a fancy index
    return _fill_holes(mask, params.min_contour_area / pixel_area if params.holes else math.inf)


def _fill_holes(mask: np.ndarray, min_area: float) -> np.ndarray:
    """Fill background components (4-connected) that do not touch the border and have fewer than
    min_area px: a flood fill from a padded border finds the holes (usually none), and only their
    bounding box is labelled."""
    background = cv2.copyMakeBorder((~mask).view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    cv2.floodFill(background, None, (0, 0), 0, flags=4)  # the background reached from the border
    holes = background[1:-1, 1:-1]
    if not cv2.countNonZero(holes):
        return mask
    out = mask.copy()
    if math.isinf(min_area):
        out |= holes.view(bool)
        return out
    x, y, w, h = cv2.boundingRect(holes)
    box = holes[y:y + h, x:x + w]
    count, labels = cv2.connectedComponents(box, connectivity=4)  # no stats: ~2x faster with the bincount
    fill = np.bincount(labels[box.view(bool)], minlength=count) < min_area  # counting only the holes' pixels
    fill[0] = False  # not a hole
    out[y:y + h, x:x + w] |= np.take(fill, labels)
    return out


def pool_factor(mask: np.ndarray, params: ContourParams) -> int:
    """Image pixels per working pixel (a whole number): 1 for masks of at most ``TOL.work_pixels``
    pixels, else what brings them near that many, but no more than ``TOL.pool_per_tolerance``
    times the simplification tolerance of the small islands (the ``TOL.pool_quantile`` of the
    islands' tolerances weighted by their size, from their boxes on the coarsest grid), so sheets
    of small sprites keep their detail."""
    return _pooled(mask, params)[0]


def _pooled(mask: np.ndarray, params: ContourParams) -> tuple[int, np.ndarray]:
    """``pool_factor`` and the mask pooled by it (the coarsest grid it looks at, when that is it)."""
    height, width = mask.shape
    most = math.ceil(math.sqrt(height * width / TOL.work_pixels))
    if most <= 1:
        return 1, mask
    coarse = pool_mask(mask, most)
    _, _, stats, _ = cv2.connectedComponentsWithStats(_as_u8(coarse), connectivity=8)
    size = np.maximum(stats[1:, 2:4] - 1, 0) * most  # pooling grows each box by about a cell
    if not len(size):
        return most, coarse
    tol = np.clip(TOL.detail_scale * np.hypot(size[:, 0], size[:, 1]) / params.detail_factor,
                  TOL.min_tolerance_px, TOL.max_tolerance_px)
    order = np.argsort(tol)
    weight = np.cumsum(size.sum(axis=1)[order] + 1.0)
    small = tol[order][np.searchsorted(weight, TOL.pool_quantile * weight[-1])]
    factor = int(min(max(math.floor(TOL.pool_per_tolerance * small), 1), most))
    return factor, coarse if factor == most else pool_mask(mask, factor)


def pool_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    """``mask`` max-pooled by ``factor``: cell (i, j) is set when any pixel of the block
    ``[i f, (i + 1) f) x [j f, (j + 1) f)`` is (the last blocks hold what is left of the image)."""
    if factor <= 1:
        return mask
    grown = cv2.dilate(_as_u8(mask), np.ones((factor, factor), np.uint8), anchor=(0, 0))
    return grown[::factor, ::factor].astype(bool)


def unpool_rings(rings: list[Ring], factor: int, width: int, height: int) -> list[Ring]:
    """Rings on the grid of ``pool_mask(mask, factor)`` in image pixels. Working x maps to
    ``factor * x`` up to the last cell, whose unit width maps onto the pixels left; segments are
    split where they cross into the last cell, so the map is linear on each piece: it keeps every
    pixel of a set cell inside and keeps rings apart. A split point that ends up on a straight edge
    (the map is linear across it: the last cell is whole, or the edge runs along an axis) is
    dropped: it would be an outline vertex Triangle may not remove, forcing slivers beside it."""
    if factor <= 1:
        return rings
    count = len(rings)
    points = np.concatenate([r.points for r in rings]).astype(float)
    owner = np.repeat(np.arange(count), [len(r.points) for r in rings])
    for axis, size in ((0, width), (1, height)):  # all rings at once, as each ring on its own
        last = math.ceil(size / factor) - 1
        if points[:, axis].max() > last:  # a ring that stays below the last cell gets no split point
            points, owner = _split_at_batch(points, owner, count, axis, last)
            over = points[:, axis] > last
            points[:, axis] = np.where(over, factor * last + (points[:, axis] - last) * (size - factor * last),
                                       factor * points[:, axis])
        else:
            points[:, axis] = points[:, axis] * factor
    pieces = _split(_drop_repeats_batch(points, owner, count)[0])
    return [Ring(p, r.is_hole, r.island) for p, r in zip(pieces, rings, strict=True)]


def _split_at_batch(points: np.ndarray, owner: np.ndarray, count: int, axis: int,
                    at: float) -> tuple[np.ndarray, np.ndarray]:
    """Every closed ring (points grouped by ring in ``owner``) with a point added where an edge
    crosses the line ``points[:, axis] == at`` (not within ``TOL.geom_eps`` of either end, where the
    end itself is on the line), all rings in one pass."""
    nxt = points[_pack(points, owner, count).nxt]
    a, b = points[:, axis] - at, nxt[:, axis] - at
    cross = (a * b < 0) & (np.abs(a) > TOL.geom_eps) & (np.abs(b) > TOL.geom_eps)  # not at a point
    t = np.where(cross, a / np.where(cross, a - b, 1.0), 0.0)
    hits = points + t[:, None] * (nxt - points)
    hits[:, axis] = at
    counts = 1 + cross.astype(np.int64)
    out = np.empty((int(counts.sum()), 2))
    pos = np.cumsum(counts) - counts
    out[pos] = points
    out[pos[cross] + 1] = hits[cross]
    return out, np.repeat(owner, counts)


# ---------------------------------------------------------------- tracing


def trace_rings(mask: np.ndarray, *, min_hole_area: float = 0.0) -> list[Ring]:
    """Outer rings then holes of the union of opaque pixel squares, on pixel corners; holes
    enclosing less than ``min_hole_area`` are left out. ``clean_mask`` fills holes of fewer
    transparent pixels, but a hole's ring runs on the corners of the opaque pixels around it, so it
    encloses less: a thin transparent crack of 10+ pixels traces to a 2 px^2 diamond, which cut into
    the mesh forces slivers all round it and holds no transparent pixel worth the cut."""
    padded = _corner_grid(mask)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        raise InputError("CONTOUR_NOT_FOUND", "no contour found in the mask")
    parents = hierarchy[0][:, 3]
    island_of = {int(i): n for n, i in enumerate(np.flatnonzero(parents < 0))}
    sizes = np.array([len(c) for c in contours])
    packed = _pack(np.concatenate(contours).reshape(-1, 2).astype(float) - 1.0,
                   np.repeat(np.arange(len(contours)), sizes), len(contours))
    areas = _ring_areas(packed).tolist()
    pieces = _split(packed)
    rings = []
    for i in [*island_of, *np.flatnonzero(parents >= 0).tolist()]:
        hole = bool(parents[i] >= 0)
        if sizes[i] >= 3 and areas[i] != 0 and not (hole and abs(areas[i]) < min_hole_area):
            points = pieces[i] if (areas[i] > 0) != hole else pieces[i][::-1].copy()  # solid on the left
            rings.append(Ring(points, hole, island_of[int(parents[i])] if hole else island_of[i]))
    return rings


def _corner_grid(mask: np.ndarray) -> np.ndarray:
    """``(h+3, w+3) uint8``: the ``(h+1, w+1)`` corner grid (a corner is set when any of its four
    pixels is; no diagonal pinches) in a border of one unset corner, as findContours wants it. Built
    from the mask padded by two (the outer corners come out unset and never pinch), so the grid is
    not copied into a border afterwards; ``_zero_border``, not ``np.pad`` (~50 us a call)."""
    grid = _any_of_four(_zero_border(mask.view(np.uint8), 2))
    while True:
        a, b, c, d = grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]
        pinch = (a ^ b) & (b ^ c ^ 1) & (a ^ d ^ 1)  # a == d != b == c: set on one diagonal only
        if not cv2.countNonZero(pinch):
            return grid
        grid |= _any_of_four(_zero_border(pinch, 1))


def _zero_border(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` (2D uint8) in a border of ``width`` zeros."""
    return cv2.copyMakeBorder(image, width, width, width, width, cv2.BORDER_CONSTANT, value=0)


def _any_of_four(padded: np.ndarray) -> np.ndarray:
    """``(h-1, w-1) uint8``: max of each 2x2 block of a ``(h, w) uint8`` 0/1 array."""
    return cv2.dilate(padded, np.ones((2, 2), np.uint8), anchor=(0, 0))[:-1, :-1]


def _next(a: np.ndarray) -> np.ndarray:
    """``np.roll(a, -1, axis=0)`` without its overhead (hot in the per-ring simplification)."""
    return np.concatenate((a[1:], a[:1]))


def _prev(a: np.ndarray) -> np.ndarray:
    """``np.roll(a, 1, axis=0)`` without its overhead."""
    return np.concatenate((a[-1:], a[:-1]))


def signed_area(points: np.ndarray) -> float:
    """Shoelace area; positive when the interior is on the left of the walk (x right, y down)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, _next(y)) - np.dot(_next(x), y))


def _orient(points: np.ndarray, hole: bool) -> np.ndarray:
    """Orient so the solid is on the left: outer rings positive area, holes negative."""
    positive = signed_area(points) > 0
    return points if positive != hole else points[::-1].copy()


# ---------------------------------------------------------------- outward simplification


class OverBudget(InputError):
    """The outline does not fit ``max_vertices`` (code ``TRIANGULATION_FAILED``)."""


def simplify_within_budget(rings: list[Ring], params: ContourParams, width: int, height: int, *,
                           unit: float = 1.0, solid: np.ndarray | None = None,
                           steps: int = TOL.budget_retries) -> list[Ring]:
    """Simplify every ring, growing the tolerance (``steps`` scales at most) until the outline fits
    ``max_vertices``; ``OverBudget`` when none does.
    ``unit``: image pixels per pixel of the rings' grid (tolerances are set in image pixels);
    ``solid``: the pixels to hold (default ``solid_pixels`` of the rings; the mask they were
    traced from is a subset, and all that must be held)."""
    scale = 1.0
    if 3 * len(rings) > params.max_vertices:
        raise OverBudget("TRIANGULATION_FAILED", "more outlines than max_vertices allows",
                         {"rings": len(rings), "minimum_required": 3 * len(rings),
                          "max_vertices": params.max_vertices})
    index = solid_index(solid if solid is not None else solid_pixels([r.points for r in rings], width, height))
    step = 0
    while step < steps:
        outline = simplify_rings(rings, params, width, height, scale, solid=index, unit=unit)
        count = sum(len(r.points) for r in outline)
        if count <= params.max_vertices:
            return outline
        if step == 0:  # skip the steps whose Douglas-Peucker anchors alone exceed the budget
            step = _first_feasible_step(rings, params, params.max_vertices, unit, steps)
        else:
            step += 1
        scale = TOL.budget_growth ** step
    raise OverBudget("TRIANGULATION_FAILED", "outline needs more vertices than max_vertices",
                     {"vertex_count": count, "max_vertices": params.max_vertices, "rings": len(outline)})


def _first_feasible_step(rings: list[Ring], params: ContourParams, budget: int, unit: float = 1.0,
                         steps: int = TOL.budget_retries) -> int:
    """Smallest budget step ``k >= 1`` (tolerance scale ``TOL.budget_growth ** k``) at which the
    Douglas-Peucker anchors of all rings fit ``budget``, by bisection on the anchor count alone
    (cheap: no offsets or checks). The outward offset keeps at least one point per anchor, so
    the steps before it cannot fit either; the caller then simplifies for real from there."""
    tols = _ring_tolerances(rings, params, 1.0, unit)
    small = [len(r.points) <= TOL.min_ring_points for r in rings]
    f32 = [r.points.astype(np.float32).reshape(-1, 1, 2) for r in rings]

    def anchors(step: int) -> int:
        scale = TOL.budget_growth ** step
        return sum(len(p) if s else len(cv2.approxPolyDP(p, t * scale, True)) for p, t, s in
                   zip(f32, tols, small, strict=True))

    lo, hi = 1, max(steps - 1, 1)
    if anchors(hi) > budget:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if anchors(mid) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _ring_tolerances(rings: list[Ring], params: ContourParams, scale: float, unit: float = 1.0) -> list[float]:
    """Each ring's simplification tolerance in its own pixels (``unit`` image pixels each, never
    under ``TOL.min_tolerance_px`` of them): its island's, or a hole's own when smaller."""
    own = _diagonals([r.points for r in rings])
    hole = np.array([r.is_hole for r in rings], dtype=bool)
    island = np.array([r.island for r in rings], dtype=np.int64)
    outer = np.full(int(island.max(initial=0)) + 1, np.inf)
    outer[island[~hole]] = own[~hole]
    diag = np.where(hole, np.minimum(outer[island], own), outer[island])
    tol = np.clip(TOL.detail_scale * unit * diag / params.detail_factor, TOL.min_tolerance_px, TOL.max_tolerance_px)
    return (scale * np.maximum(tol / unit, TOL.min_tolerance_px)).tolist()


def _diagonals(rings: list[np.ndarray]) -> np.ndarray:
    """``(r,) float`` bounding-box diagonal of every ring, in one pass over their points."""
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    points = np.concatenate(rings)
    starts = np.cumsum(sizes) - sizes
    span = np.maximum.reduceat(points, starts, axis=0) - np.minimum.reduceat(points, starts, axis=0)
    return np.hypot(span[:, 0], span[:, 1])


def simplify_rings(rings: list[Ring], params: ContourParams, width: int, height: int, scale: float = 1.0, *,
                   solid: np.ndarray | SolidIndex | None = None, unit: float = 1.0) -> list[Ring]:
    """Simplify each ring with its island's tolerance, then check all of them at once: every
    opaque pixel must be whole inside the simplified outline (exact, from the outline's own pixels:
    ``_uncovering_faults``) and no ring may touch or cross another ring or itself. Where a ring is to
    blame, only its traced points near the faults are simplified again, at half their tolerance
    (``_Refinement``; each round's retries in one batch): the rest of the ring keeps its
    simplification (a notch between two legs no longer doubles the vertices of the whole figure).
    After ``TOL.crossing_retries`` rounds a ring still to blame is kept as traced (always valid)."""
    if solid is None:
        solid = solid_pixels([r.points for r in rings], width, height)
    index = solid if isinstance(solid, SolidIndex) else solid_index(solid)
    tols = _ring_tolerances(rings, params, scale, unit)
    holes = (_ring_areas(_pack_rings([r.points for r in rings])) < 0).tolist()  # once, not per retry round
    points = simplify_ring_batch([r.points for r in rings], tols, width, height, holes=holes)
    traced = [p is r.points for p, r in zip(points, rings, strict=True)]
    refinement = _Refinement([r.points for r in rings], tols, holes)
    attempt = 0
    faults = _joined(_uncovering_faults(points, index), _crossing_faults(points))
    while bad := sorted({i for i in faults.ring.tolist() if not traced[i]}):
        attempt += 1
        if attempt <= TOL.crossing_retries:
            refinement.deepen(bad, faults)
            for i, candidate in zip(bad, refinement.candidates(bad, width, height), strict=True):
                points[i] = candidate
        else:
            for i in bad:
                points[i] = rings[i].points
        for i in bad:
            traced[i] = points[i] is rings[i].points
        faults = _joined(_uncovering_faults(points, index, changed=set(bad)),
                         _recheck_crossing_faults(points, set(bad)))
    return [Ring(p, r.is_hole, r.island) for p, r in zip(points, rings, strict=True)]


class _Refinement:
    """Rings simplified with a tolerance per traced point: ``tol / 2 ** depth``, each point's depth
    raised near the faults blamed on its ring (``deepen``); the Douglas-Peucker anchors of each
    ring and level are computed once (``anchors``)."""

    def __init__(self, rings: list[np.ndarray], tols: Sequence[float], holes: Sequence[bool]) -> None:
        self.rings, self.tols, self.holes = rings, list(tols), list(holes)
        self.depth: dict[int, np.ndarray] = {}
        self._dp: dict[tuple[int, int], np.ndarray] = {}

    def deepen(self, ids: list[int], faults: _Faults) -> None:
        """One more halving for the points of rings ``ids`` within reach of a segment blamed on their
        ring (an edge lies within about twice its tolerance of the points it was offset from; a miter
        reaches further: ``TOL.fault_reach``), or for all of a ring's points when none is that near
        (a ring blamed for a pixel its box holds)."""
        sizes = np.array([len(self.rings[i]) for i in ids], dtype=np.int64)
        slot = np.repeat(np.arange(len(ids)), sizes)  # each point's position in ``ids``
        points = np.concatenate([self.rings[i] for i in ids])
        depth = np.concatenate([self.depth.get(i, np.zeros(len(self.rings[i]), dtype=np.int64)) for i in ids])
        reach = TOL.fault_reach * np.asarray(self.tols)[np.asarray(ids)][slot] / 2.0 ** depth + 1.0
        where = np.full(len(self.rings), -1)
        where[ids] = np.arange(len(ids))
        fault_slot = where[faults.ring]
        mine = fault_slot >= 0  # the faults of rings in ``ids``
        fault_slot, a, b = fault_slot[mine], faults.a[mine], faults.b[mine]
        near = _near_own_segments(points, slot, reach, fault_slot, a, b)
        hit = np.bincount(slot[near], minlength=len(ids)) > 0
        depth = depth + (near | ~hit[slot])
        for i, part in zip(ids, np.split(depth, np.cumsum(sizes)[:-1]), strict=True):
            self.depth[i] = part

    def anchors(self, ids: list[int]) -> list[np.ndarray]:
        """Sorted indices of each ring's points that a Douglas-Peucker of their own depth keeps: the
        anchors of ``tol / 2 ** level`` at the points at least ``level`` deep, for every level up to
        the ring's deepest, and every point whose tolerance would go under ``TOL.min_tolerance_px``."""
        keep = {i: np.zeros(len(self.rings[i]), dtype=bool) for i in ids}
        levels = []
        for i in ids:
            for level in range(int(self.depth[i].max()) + 1):
                if self.tols[i] / 2.0 ** level < TOL.min_tolerance_px:
                    keep[i] |= self.depth[i] >= level
                    break
                levels.append((i, level))
        self._compute([key for key in levels if key not in self._dp])
        for i, level in levels:
            found = self._dp[i, level]
            keep[i][found[self.depth[i][found] >= level]] = True
        return [np.flatnonzero(keep[i]) for i in ids]

    def _compute(self, keys: list[tuple[int, int]]) -> None:
        """The Douglas-Peucker anchors of these (ring, level) pairs, in one ``_dp_indices_batch``."""
        if not keys:
            return
        sizes = np.array([len(self.rings[i]) for i, _ in keys], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        found = _dp_indices_batch([self.rings[i] for i, _ in keys],
                                  [self.tols[i] / 2.0 ** level for i, level in keys], sizes, offsets)
        bounds = np.searchsorted(found, offsets).tolist()
        for key, lo, hi, base in zip(keys, bounds[:-1], bounds[1:], offsets[:-1].tolist(), strict=True):
            self._dp[key] = found[lo:hi] - base

    def candidates(self, ids: list[int], width: int, height: int) -> list[np.ndarray]:
        """Each ring from its anchors, pushed outward as ``simplify_ring_batch`` does; a candidate that
        fails there (too few points, no fewer points, flipped orientation) is retried one halving
        deeper everywhere, and a ring whose every point is an anchor is kept as traced."""
        out = {i: self.rings[i] for i in ids}
        active = list(ids)
        while active:
            anchors = dict(zip(active, self.anchors(active), strict=True))
            active = [i for i in active if len(anchors[i]) < len(self.rings[i])]  # the others stay as traced
            if not active:
                break
            sizes = np.array([len(self.rings[i]) for i in active], dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum(sizes)])
            kept = np.concatenate([anchors[i] + offsets[k] for k, i in enumerate(active)])
            # the ring's own tolerance for its joins and tidying: away from the faults the candidate
            # is then the one of that tolerance, point for point (and no new fault appears there)
            tols = np.array([self.tols[i] for i in active])
            found, areas = _offset_simplify_batch([self.rings[i] for i in active], tols, width, height, kept=kept)
            retry = []
            for i, cand, area in zip(active, found, areas, strict=True):
                if cand is not None and len(cand) < len(self.rings[i]) and (area < 0) == self.holes[i]:
                    out[i] = cand
                else:
                    self.depth[i] = self.depth[i] + 1
                    retry.append(i)
            active = retry
        return [out[i] for i in ids]


def _near_own_segments(points: np.ndarray, slot: np.ndarray, reach: np.ndarray, fault_slot: np.ndarray,
                       a: np.ndarray, b: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """``(n,) bool``: whether each point lies within its ``reach`` of a segment a-b of its own ``slot``.
    Only the (point, segment) pairs whose x ranges meet within the largest reach are measured: one
    sort of the points by (slot, x), a range of it per segment, in chunks of about ``chunk`` pairs."""
    near = np.zeros(len(points), dtype=bool)
    if not len(a):
        return near
    widest = float(reach.max())
    base = float(points[:, 0].min())
    stride = float(points[:, 0].max()) - base + 2 * widest + 1.0  # no slot's range reaches the next
    key = slot * stride + (points[:, 0] - base)
    order = np.argsort(key, kind="stable")
    key = key[order]
    lo = fault_slot * stride + (np.minimum(a[:, 0], b[:, 0]) - widest - base)
    hi = fault_slot * stride + (np.maximum(a[:, 0], b[:, 0]) + widest - base)
    first, last = np.searchsorted(key, lo, side="left"), np.searchsorted(key, hi, side="right")
    ends = np.cumsum(last - first)
    start = 0
    while start < len(a):
        stop = max(int(np.searchsorted(ends, ends[start] - (last[start] - first[start]) + chunk, side="right")),
                   start + 1)
        seg, at = _expand(first[start:stop], last[start:stop])
        seg += start
        pt = order[at]
        d = b[seg] - a[seg]
        rel = points[pt] - a[seg]
        t = np.clip((rel * d).sum(axis=1) / np.maximum((d * d).sum(axis=1), 1e-12), 0.0, 1.0)
        gap = rel - t[:, None] * d
        near[pt[np.hypot(gap[:, 0], gap[:, 1]) <= reach[pt]]] = True
        start = stop
    return near


def _recheck_crossing(rings: list[np.ndarray], changed: set[int]) -> set[int]:
    """``_crossing_rings`` after the ``changed`` rings were replaced, when no other ring crossed
    before (``_recheck_crossing_faults``)."""
    return set(_recheck_crossing_faults(rings, changed).ring.tolist())


def _recheck_crossing_faults(rings: list[np.ndarray], changed: set[int]) -> _Faults:
    """The edges that touch or cross another after the ``changed`` rings were replaced, when no other
    ring crossed before: only the rings whose bounding boxes meet a changed ring's can cross now."""
    boxes = _boxes(rings)
    moved = boxes[sorted(changed)]
    near = np.flatnonzero(((boxes[:, None, 0] <= moved[None, :, 2]) & (boxes[:, None, 2] >= moved[None, :, 0]) &
                           (boxes[:, None, 1] <= moved[None, :, 3]) & (boxes[:, None, 3] >= moved[None, :, 1])).any(1))
    subset = [rings[i] for i in near]
    edges = _crossing_edges(subset)
    a, b = _ring_edges(subset)
    return _Faults(np.repeat(near, [len(r) for r in subset])[edges], a[edges], b[edges])


def _crossing_faults(rings: list[np.ndarray]) -> _Faults:
    """The edges of the rings that touch or cross another (``_crossing_edges``), with their rings."""
    edges = _crossing_edges(rings)
    a, b = _ring_edges(rings)
    return _Faults(np.repeat(np.arange(len(rings)), [len(r) for r in rings])[edges], a[edges], b[edges])


def _boxes(rings: list[np.ndarray]) -> np.ndarray:
    """``(r, 4) float`` (x0, y0, x1, y1) of every ring, widened by ``TOL.geom_eps``."""
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    points = np.concatenate(rings)
    starts = np.cumsum(sizes) - sizes
    lo = np.minimum.reduceat(points, starts, axis=0) - TOL.geom_eps
    hi = np.maximum.reduceat(points, starts, axis=0) + TOL.geom_eps
    return np.concatenate([lo, hi], axis=1)


def simplify_ring(ring: np.ndarray, tol: float, width: int, height: int) -> np.ndarray:
    """Fewer points, pushed outward past every traced point (``ring`` itself when that fails);
    the caller checks pixel coverage and crossings (``simplify_rings``, ``holds_ring``)."""
    return simplify_ring_batch([ring], [tol], width, height)[0]


def simplify_ring_batch(rings: list[np.ndarray], tols: Sequence[float], width: int, height: int, *,
                        holes: Sequence[bool] | None = None) -> list[np.ndarray]:
    """``simplify_ring`` of every ring at once: all rings go through each offset pass together,
    and a ring whose candidate fails (too few points, no fewer points, flipped orientation) is
    retried at half its tolerance in the next pass, down to ``TOL.min_tolerance_px``.
    ``holes``: each ring's signed area < 0, when the caller already knows it."""
    out = list(rings)
    tol = np.asarray(tols, dtype=float).copy()
    active = [i for i, r in enumerate(rings) if len(r) > TOL.min_ring_points]
    if not active:
        return out
    if holes is None:
        hole = dict(zip(active, (_ring_areas(_pack_rings([rings[i] for i in active])) < 0).tolist(), strict=True))
    else:
        hole = {i: holes[i] for i in active}
    while active := [i for i in active if tol[i] >= TOL.min_tolerance_px]:
        candidates, areas = _offset_simplify_batch([rings[i] for i in active], tol[active], width, height)
        retry = []
        for i, cand, area in zip(active, candidates, areas, strict=True):
            if cand is not None and len(cand) < len(rings[i]) and (area < 0) == hole[i]:
                out[i] = cand
            else:
                tol[i] /= 2
                retry.append(i)
        active = retry
    return out


@dataclass
class _Packed:
    """Rings concatenated into one array, with each point's ring and its ring's neighbours."""

    points: np.ndarray  # (n, 2)
    ring: np.ndarray    # (n,) ring of each point, non-decreasing
    starts: np.ndarray  # (r + 1,) first point of each ring, then n
    nxt: np.ndarray     # (n,) next point of the same ring (wrapping)
    prv: np.ndarray     # (n,) previous point of the same ring (wrapping)


def _pack(points: np.ndarray, ring: np.ndarray, count: int) -> _Packed:
    """Per-ring neighbour indices for points grouped by ring (``ring`` non-decreasing)."""
    return _Packed(points, ring, *_links(np.bincount(ring, minlength=count)))


def _links(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``(r + 1,)`` first point of each ring then n, ``(n,)`` next point of the same ring, ``(n,)``
    previous one), wrapping, for consecutive rings of ``sizes`` points (empty rings allowed)."""
    starts = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    n = int(starts[-1])
    nxt, prv = np.arange(1, n + 1), np.arange(-1, n - 1)
    first, last = starts[:-1], starts[1:] - 1
    if not sizes.all():  # empty rings (failed candidates) have no wrap-around
        first, last = first[sizes > 0], last[sizes > 0]
    nxt[last] = first
    prv[first] = last
    return starts, nxt, prv


def _pack_rings(rings: list[np.ndarray]) -> _Packed:
    """``_pack`` of a list of rings."""
    sizes = [len(r) for r in rings]
    return _pack(np.concatenate(rings), np.repeat(np.arange(len(rings)), sizes), len(rings))


def _split(packed: _Packed) -> list[np.ndarray]:
    """The packed rings as a list of arrays."""
    starts = packed.starts.tolist()
    points = packed.points
    return [points[a:b] for a, b in pairwise(starts)]  # views, as np.split (which costs ~10x more per ring)


def _ring_areas(packed: _Packed) -> np.ndarray:
    """``signed_area`` of every packed ring."""
    p, q = packed.points, packed.points[packed.nxt]
    cross = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    return 0.5 * np.bincount(packed.ring, weights=cross, minlength=len(packed.starts) - 1)


def _offset_simplify_batch(rings: list[np.ndarray], tols: np.ndarray, width: int, height: int, *,
                           kept: np.ndarray | None = None) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Douglas-Peucker on each ring (or the anchors ``kept``: sorted indices into the concatenated
    rings), then push each kept edge outward past every point it replaced, for all rings in one
    vectorised pass. Returns each ring's candidate (None when fewer than 3 points remain or an edge
    is degenerate) and its signed area."""
    count = len(rings)
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    if kept is None:
        kept = _dp_indices_batch(rings, tols, sizes, offsets)
    kept_ring = np.searchsorted(offsets, kept, side="right") - 1
    kept_local = kept - offsets[kept_ring]
    ok = np.bincount(kept_ring, minlength=count) >= 3
    first = np.zeros(count, dtype=np.int64)
    first[kept_ring[::-1]] = kept_local[::-1]  # each ring's first kept point (the last write wins)
    pk = _rolled_pack(np.concatenate(rings), sizes, offsets, first, ok)
    ring_pts = pk.points
    # anchors: global indices into ring_pts, sorted, each ring's first anchor at its first point
    sel = ok[kept_ring]
    keep = kept_local[sel] - first[kept_ring[sel]] + pk.starts[kept_ring[sel]]
    anchor_ring = pk.ring[keep]
    ak = _pack(ring_pts[keep], anchor_ring, count)
    anchors, anext, aprev = ak.points, ak.nxt, ak.prv
    direction = anchors[anext] - anchors
    length = np.linalg.norm(direction, axis=1)
    degenerate = np.bincount(anchor_ring[length <= 0], minlength=count) > 0
    u = direction / np.where(length > 0, length, 1.0)[:, None]
    normal = np.stack([u[:, 1], -u[:, 0]], axis=1)  # right side = away from the solid
    span = np.searchsorted(keep, np.arange(len(ring_pts)), side="right") - 1
    tol_a = np.asarray(tols, dtype=float)[anchor_ring]
    if len(keep):
        offset = _span_offsets_batch(ring_pts, anchors, normal, u, keep, span, anext, aprev)
        bevel_off = _bevel_offsets_batch(ring_pts, anchors, normal, keep, span, anext, aprev)
        points, owner = _join_lines_batch(anchors, u, normal, offset, tol_a, bevel_off, anext, aprev, anchor_ring)
    else:
        points, owner = np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    points, owner = _clip_batch(points, owner, count, width, height)
    packed, alive = _drop_repeats_batch(points, owner, count)
    tidied = _tidy_batch(packed, np.asarray(tols, dtype=float), width, height)
    if tidied is not packed:  # what tidy's drops left collinear
        packed, tidy_alive = _drop_repeats_batch(tidied.points, tidied.ring, count)
        alive &= tidy_alive
    alive &= ok & ~degenerate & (np.bincount(packed.ring, minlength=count) >= 3)
    areas = _ring_areas(packed)
    pieces = _split(packed)
    return [p if a else None for p, a in zip(pieces, alive, strict=True)], areas


def _rolled_pack(points: np.ndarray, sizes: np.ndarray, offsets: np.ndarray, first: np.ndarray,
                 ok: np.ndarray) -> _Packed:
    """The rings (concatenated in ``points``, ``sizes`` and ``offsets`` each) with ``ok`` packed, each
    starting at its point ``first`` (``np.roll`` of each ring by ``-first``), the others empty."""
    count = len(sizes)
    kept_sizes = sizes * ok
    if not kept_sizes.sum():
        return _pack(np.zeros((0, 2)), np.zeros(0, dtype=np.int64), count)
    ring = np.repeat(np.arange(count), kept_sizes)
    starts = np.cumsum(kept_sizes) - kept_sizes
    local = (np.arange(len(ring)) - starts[ring] + first[ring]) % sizes[ring]
    return _pack(points[offsets[ring] + local], ring, count)


def _dp_indices_batch(rings: list[np.ndarray], tols: np.ndarray, sizes: np.ndarray,
                      offsets: np.ndarray) -> np.ndarray:
    """Sorted indices into the concatenated rings of the points cv2.approxPolyDP keeps on each closed
    ring with its tolerance (all of a ring's points when a kept point is not found), every kept
    point found in its ring for all rings at once, each taking the first equal ring point."""
    f32 = np.concatenate(rings).astype(np.float32)
    bounds = offsets.tolist()
    approx = [cv2.approxPolyDP(f32[a:b], t, True)  # (n, 2) float32 is read as n points, as (n, 1, 2)
              for a, b, t in zip(bounds[:-1], bounds[1:], np.asarray(tols, dtype=float).tolist(), strict=True)]
    count = len(rings)
    owner = np.repeat(np.arange(count), sizes)
    kept_points = np.concatenate(approx).reshape(-1, 2)
    kept_owner = np.repeat(np.arange(count), [len(a) for a in approx])
    grid = f32.astype(np.int64)
    if len(grid) and (grid == f32).all() and np.abs(grid).max() < 2 ** 24:  # traced rings: integer corners
        found = _find_integer_points(grid, owner, kept_points.astype(np.int64), kept_owner)
    else:
        found = _find_points(f32.astype(float), owner, kept_points.astype(float), kept_owner)
    missing = np.bincount(kept_owner[found < 0], minlength=count) > 0
    everything = np.flatnonzero(missing[owner])  # all points of the rings with a point not found
    return np.unique(np.concatenate([found[~missing[kept_owner]], everything]))


def _find_integer_points(points: np.ndarray, owner: np.ndarray, wanted: np.ndarray,
                         wanted_owner: np.ndarray) -> np.ndarray:
    """For each wanted integer point, the index of the first equal point of the same ring in
    ``points`` (-1 when none): one stable sort of packed (ring, x, y) keys."""
    lo = np.minimum(points.min(axis=0), wanted.min(axis=0, initial=2 ** 24))
    span = np.maximum(points.max(axis=0), wanted.max(axis=0, initial=0)) - lo + 1
    def key(xy: np.ndarray, ring: np.ndarray) -> np.ndarray:
        return (ring * span[0] + xy[:, 0] - lo[0]) * span[1] + xy[:, 1] - lo[1]
    order = np.argsort(key(points, owner), kind="stable")  # equal points keep ring order
    keys = key(points, owner)[order]
    want = key(wanted, wanted_owner)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[pos] == want, order[pos], -1)


def _find_points(points: np.ndarray, owner: np.ndarray, wanted: np.ndarray, wanted_owner: np.ndarray) -> np.ndarray:
    """``_find_integer_points`` for any points: one sort of ring and wanted points together."""
    both = np.concatenate([points, wanted])
    ring = np.concatenate([owner, wanted_owner])
    is_wanted = np.arange(len(both)) >= len(points)
    order = np.lexsort((is_wanted, both[:, 1], both[:, 0], ring))  # ring points first among equals
    sp, so = both[order], ring[order]
    start = np.ones(len(order), dtype=bool)
    start[1:] = (so[1:] != so[:-1]) | (sp[1:] != sp[:-1]).any(axis=1)
    first = order[np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))]
    found = np.empty(len(wanted), dtype=np.int64)
    found[order[is_wanted[order]] - len(points)] = first[is_wanted[order]]
    return np.where(found < len(points), found, -1)


def _span_offsets_batch(ring: np.ndarray, anchors: np.ndarray, normal: np.ndarray, u: np.ndarray,
                        keep: np.ndarray, span: np.ndarray, anext: np.ndarray, aprev: np.ndarray) -> np.ndarray:
    """How far each kept edge must move outward to pass its own points, and at convex corners
    also its neighbours' points (there the outline is the intersection of both half-planes)."""

    def reach(line: np.ndarray) -> np.ndarray:
        dist = np.einsum("ij,ij->i", ring - anchors[line], normal[line])
        return np.maximum.reduceat(dist, keep)  # per span of the points

    own = np.maximum(reach(span), 0.0)
    u_prev = u[aprev]
    convex = (u_prev[:, 0] * u[:, 1] - u_prev[:, 1] * u[:, 0]) > 0   # at anchor i
    from_prev = reach(anext[span])[aprev]   # span i-1's points against line i
    from_next = reach(aprev[span])[anext]   # span i+1's points against line i
    convex_next = convex[anext]             # corner at anchor i+1
    offset = np.where(convex, np.maximum(own, from_prev), own)
    return np.where(convex_next, np.maximum(offset, from_next), offset)


def _bisectors(normal: np.ndarray, aprev: np.ndarray) -> np.ndarray:
    """Unit outward bisector at each anchor (between the previous edge's normal and this one's)."""
    bis = normal[aprev] + normal
    length = np.linalg.norm(bis, axis=1, keepdims=True)
    return np.where(length > TOL.parallel_sin, bis / np.maximum(length, 1e-12), normal)


def _bevel_offsets_batch(ring: np.ndarray, anchors: np.ndarray, normal: np.ndarray, keep: np.ndarray,
                         span: np.ndarray, anext: np.ndarray, aprev: np.ndarray) -> np.ndarray:
    """How far out along its bisector a bevel at each anchor must sit to pass both spans' points."""
    bis = _bisectors(normal, aprev)
    start = np.einsum("ij,ij->i", ring - anchors[span], bis[span])
    nxt = anext[span]
    end = np.einsum("ij,ij->i", ring - anchors[nxt], bis[nxt])
    return np.maximum(np.maximum(np.maximum.reduceat(start, keep), np.maximum.reduceat(end, keep)[aprev]), 0)


def _join_lines_batch(anchors: np.ndarray, u: np.ndarray, normal: np.ndarray, offset: np.ndarray,
                      tol: np.ndarray, bevel_offset: np.ndarray, anext: np.ndarray, aprev: np.ndarray,
                      owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corner points of consecutive offset lines: miters, bevelled when long or near-parallel.
    Returns the points and the ring of each."""
    u_prev, n_prev, d_prev = u[aprev], normal[aprev], offset[aprev]
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
        bis = _bisectors(normal, aprev)
        ob = np.einsum("ij,ij->i", anchors, bis) + bevel_offset
        a = np.where(convex[:, None], _meet(n_prev, np.einsum("ij,ij->i", a, n_prev), bis, ob), a)
        b = np.where(convex[:, None], _meet(normal, np.einsum("ij,ij->i", b, normal), bis, ob), b)
    counts = 1 + bevel.astype(np.int64)
    pos = np.cumsum(counts) - counts
    out = np.empty((int(counts.sum()), 2))
    out[pos] = np.where(bevel[:, None], a, miter)
    out[pos[bevel] + 1] = b[bevel]
    return out, np.repeat(owner, counts)


def _meet(n1: np.ndarray, c1: np.ndarray, n2: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Points x with n1.x = c1 and n2.x = c2, row-wise (Cramer's rule)."""
    det = n1[:, 0] * n2[:, 1] - n1[:, 1] * n2[:, 0]
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    return np.stack([(c1 * n2[:, 1] - c2 * n1[:, 1]) / det, (n1[:, 0] * c2 - n2[:, 0] * c1) / det], axis=1)


def _clip_batch(points: np.ndarray, owner: np.ndarray, count: int, width: float,
                height: float) -> tuple[np.ndarray, np.ndarray]:
    """Sutherland-Hodgman clip of every ring (points grouped by ring in ``owner``) to
    [0, width] x [0, height], exact, so each stays a superset of its part in the box; one
    vectorised pass per box side (a ring inside a side keeps its points as they are)."""
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        if not len(points):
            break
        side = points[:, axis] - bound
        inside = side <= 0 if keep_below else side >= 0
        if inside.all():
            continue
        nxt_index = _pack(points, owner, count).nxt
        side_next = side[nxt_index]
        cross = inside != inside[nxt_index]
        t = side / np.where(cross, side - side_next, 1.0)
        hits = points + t[:, None] * (points[nxt_index] - points)
        hits[:, axis] = bound  # exactly on the box: float noise would cut the border pixels
        counts = inside.astype(np.int64) + cross
        pos = np.cumsum(counts) - counts
        out = np.empty((int(counts.sum()), 2))
        out[pos[inside]] = points[inside]
        out[pos[cross] + inside[cross]] = hits[cross]
        points, owner = out, np.repeat(owner, counts)
    return points, owner


def _drop_repeats_batch(points: np.ndarray, owner: np.ndarray, count: int) -> tuple[_Packed, np.ndarray]:
    """Remove consecutive duplicates, then collinear points, in every ring; also whether each
    ring keeps at least 3 points (``_drop_repeats`` per ring)."""
    alive = np.bincount(owner, minlength=count) >= 3
    pk = _pack(points, owner, count)
    keep = np.linalg.norm(points - points[pk.prv], axis=1) > TOL.geom_eps
    points, owner = points[keep], owner[keep]
    alive &= np.bincount(owner, minlength=count) >= 3
    pk = _pack(points, owner, count)
    prev, nxt = points[pk.prv], points[pk.nxt]
    cross = (points[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1]) - \
        (points[:, 1] - prev[:, 1]) * (nxt[:, 0] - prev[:, 0])
    keep = np.abs(cross) > TOL.geom_eps
    points, owner = points[keep], owner[keep]
    alive &= np.bincount(owner, minlength=count) >= 3
    return _pack(points, owner, count), alive


def _tidy_batch(packed: _Packed, tols: np.ndarray, width: float, height: float) -> _Packed:
    """Remove the near-degenerate features the offset joins and the image-box clip leave, which
    force slivers when outline segments may not be split: a reflex (notch) vertex no deeper than the
    ring's tolerance that is nearly collinear, sits next to a much shorter segment, or spans a chord
    of at most ``TOL.tidy_notch_chord`` tolerances (a dent Douglas-Peucker would have smoothed) is
    dropped (its chord only adds solid area),
    and a short segment between two convex corners is replaced by the miter of its neighbours when
    that point is inside the image and within the ring's tolerance. Both only move the outline
    outward, so the caller's coverage and crossing checks still decide; ``TOL.tidy_passes`` passes.
    Every test looks at one ring's own points only, so a ring the previous pass left as it was stays
    so: a pass after the first looks only at the rings the previous one changed (same result)."""
    count = len(packed.starts) - 1
    chosen = None  # indices into packed.points of the rings this pass looks at; None: all
    for _ in range(TOL.tidy_passes):
        pk = packed if chosen is None else _pack(packed.points[chosen], packed.ring[chosen], count)
        p, ring = pk.points, pk.ring
        if not len(p):
            return packed
        tol = tols[ring]
        prv, nxt = p[pk.prv], p[pk.nxt]
        d_in, d_out = p - prv, nxt - p
        l_in, l_out = np.linalg.norm(d_in, axis=1), np.linalg.norm(d_out, axis=1)
        turn = d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0]  # > 0: convex corner of the solid
        chord = np.maximum(np.linalg.norm(nxt - prv, axis=1), 1e-12)
        sin_turn = turn / np.maximum(l_in * l_out, 1e-12)
        short = np.minimum(l_in, l_out) < TOL.tidy_short_ratio * np.maximum(l_in, l_out)
        dent = chord <= TOL.tidy_notch_chord * tol
        notch = (turn < 0) & (-turn / chord <= tol) & ((-sin_turn < TOL.tidy_sin) | short | dent)
        sizes = np.bincount(ring, minlength=len(pk.starts) - 1)
        notch &= sizes[ring] > 3
        notch &= ~notch[pk.prv]  # never two neighbours in one pass
        # short segment p -> nxt between convex corners: meet the previous and following lines
        nn = p[pk.nxt[pk.nxt]]
        d_far = nn - nxt
        convex = turn > 0
        l_far = np.linalg.norm(d_far, axis=1)
        bevel = convex & convex[pk.nxt] & (l_out < TOL.tidy_short_ratio * np.minimum(l_in, l_far)) & \
            (sizes[ring] > 3) & ~notch & ~notch[pk.nxt]
        if bevel.any():
            denom = d_in[:, 0] * d_far[:, 1] - d_in[:, 1] * d_far[:, 0]
            safe = np.where(np.abs(denom) > 1e-12, denom, 1.0)
            diff = nxt - p
            t = (diff[:, 0] * d_far[:, 1] - diff[:, 1] * d_far[:, 0]) / safe  # along d_in from p
            s = (diff[:, 0] * d_in[:, 1] - diff[:, 1] * d_in[:, 0]) / safe    # along d_far from nxt
            miter = p + t[:, None] * d_in
            rel = miter - p
            away = np.abs(rel[:, 0] * d_out[:, 1] - rel[:, 1] * d_out[:, 0]) / np.maximum(l_out, 1e-12)
            bevel &= (np.abs(denom) > 1e-12) & (t >= 0) & (s <= 0) & (away <= tol) & \
                (miter[:, 0] >= 0) & (miter[:, 0] <= width) & (miter[:, 1] >= 0) & (miter[:, 1] <= height)
            bevel &= ~bevel[pk.prv] & ~notch[pk.nxt[pk.nxt]] & ~notch[pk.prv]
            p = np.where(bevel[:, None], miter, p)
        drop = notch | bevel[pk.prv]
        if not drop.any():
            return packed
        if chosen is None:
            packed = _pack(p[~drop], ring[~drop], count)
        else:
            points = packed.points.copy()
            points[chosen] = p
            keep = np.ones(len(points), dtype=bool)
            keep[chosen[drop]] = False
            packed = _pack(points[keep], packed.ring[keep], count)
        changed = np.zeros(count, dtype=bool)
        changed[ring[drop]] = True
        chosen = np.flatnonzero(changed[packed.ring])
    return packed


# ---------------------------------------------------------------- geometry predicates


def holds_ring(candidate: np.ndarray, ring: np.ndarray) -> bool:
    """Whether ``candidate`` (same orientation) keeps every pixel on the solid side of the traced
    ``ring`` on its own solid side, exactly on the pixel grid: for an outer ring every pixel inside
    it must be inside the candidate with no candidate edge through its interior; for a hole every
    pixel outside it must be outside the candidate's hole, again untouched by its edges. Pixels
    the trace itself halves (its diagonal steps) are not opaque pixels and are not required.
    """
    hole = signed_area(ring) < 0
    if (signed_area(candidate) < 0) != hole:
        return False
    lo = np.floor(np.minimum(candidate.min(axis=0), ring.min(axis=0))) - 1
    hi = np.ceil(np.maximum(candidate.max(axis=0), ring.max(axis=0))) + 1
    width, height = (int(v) for v in hi - lo)
    inside = winding_grid([ring - lo], width, height) != 0
    whole = ~edge_pixels([ring - lo], width, height)  # not halved by a diagonal step of the trace
    wind = winding_grid([candidate - lo], width, height)
    cut = edge_pixels([candidate - lo], width, height)
    if hole:
        return not ((wind != 0) | cut)[~inside & whole].any()
    return bool(((wind == 1) & ~cut)[inside & whole].all())


def solid_pixels(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """``(height, width) bool``: pixels whole inside the traced rings (nonzero winding): the mask."""
    return (winding_grid(rings, width, height) != 0) & ~edge_pixels(rings, width, height)


@dataclass
class SolidIndex:
    """The pixels an outline must hold, with one probe pixel (an upper-left corner: no solid pixel
    above or to its left) in every 4-connected part of them, found once per image."""

    solid: np.ndarray   # (h, w) bool
    probes: np.ndarray  # (k, 2) int (x, y)


def solid_index(solid: np.ndarray) -> SolidIndex:
    """``SolidIndex`` of a ``(h, w) bool`` solid."""
    corner = solid.copy()
    corner[1:] &= ~solid[:-1]
    corner[:, 1:] &= ~solid[:, :-1]
    found = cv2.findNonZero(corner.view(np.uint8))  # (x, y) in row order, as np.nonzero
    return SolidIndex(solid, np.zeros((0, 2), np.int64) if found is None else found.reshape(-1, 2).astype(np.int64))


class _Faults(NamedTuple):
    """Where the outline checks failed: each fault's ring and a segment of it to blame (an edge, or a
    pixel centre as a segment of length 0)."""

    ring: np.ndarray  # (k,) int
    a: np.ndarray     # (k, 2)
    b: np.ndarray     # (k, 2)


def _no_faults() -> _Faults:
    return _Faults(np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros((0, 2)))


def _joined(*faults: _Faults) -> _Faults:
    """All the faults, in one ``_Faults``."""
    return _Faults(*(np.concatenate(parts) for parts in zip(*faults, strict=True)))


def _uncovering_local(rings: list[np.ndarray], index: SolidIndex, changed: set[int] | None = None) -> set[int]:
    """``_uncovering_rings`` in time of the outline's length, not the image's (``_uncovering_faults``)."""
    return set(_uncovering_faults(rings, index, changed).ring.tolist())


def _uncovering_faults(rings: list[np.ndarray], index: SolidIndex, changed: set[int] | None = None) -> _Faults:
    """The rings that do not hold every solid pixel whole, and where: an edge through a solid pixel,
    or along a pixel border with solid on both sides, is to blame; when no edge enters the solid
    that way, each 4-connected part of it is wholly inside or wholly outside, so one probe pixel per
    part decides, and a probe outside blames (at its centre) every ring whose bounding box reaches
    it. ``changed``: only these rings' edges are tested for entering the solid (the others were,
    unchanged)."""
    if not rings:
        return _no_faults()
    a, b = _ring_edges(rings)
    moved = list(range(len(rings))) if changed is None else sorted(changed)
    if moved:
        ea, eb = (a, b) if changed is None else _ring_edges([rings[i] for i in moved])
        owner = np.repeat(np.asarray(moved, dtype=np.int64), [len(rings[i]) for i in moved])
        cut = _cutting_edges(ea, eb, index.solid)
        if len(cut):
            return _Faults(owner[cut], ea[cut], eb[cut])
    width = index.solid.shape[1]
    probes = index.probes
    outside = probes[_winding_at(a, b, probes + 0.5, width) <= 0]
    if not len(outside):
        return _no_faults()
    boxes = _boxes(rings)
    x, y = outside[:, :1], outside[:, 1:]
    probe, ring = np.nonzero((x + 1 >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y + 1 >= boxes[:, 1]) & (y <= boxes[:, 3]))
    centre = outside[probe] + 0.5
    return _Faults(ring, centre, centre)


def _cutting_edges(a: np.ndarray, b: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """Sorted indices of the edges a-b through a solid pixel or along a border between two solid pixels."""
    height, width = solid.shape
    row, c0, c1, edge = _cut_spans(a, b, width, height)
    span, col = _expand(c0, c1)
    return np.unique(np.concatenate([edge[span[solid[row[span], col]]], _border_edges(a, b, solid)]))


def _expand(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(run, value) for every value of each integer run [start, stop)."""
    counts = np.maximum(stop - start, 0)
    run = np.repeat(np.arange(len(start)), counts)
    return run, np.arange(len(run)) - np.repeat(np.cumsum(counts) - counts, counts) + start[run]


def _border_edges(a: np.ndarray, b: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """Indices of the edges lying along a pixel border (within ``TOL.geom_eps``) with solid pixels
    on both sides somewhere along the edge (``_cut_spans`` counts such edges as touching none)."""
    eps = 2 * TOL.geom_eps
    found = []
    for axis, grid in ((0, solid), (1, solid.T)):  # grid[along, across]: x borders, then y borders
        line = np.round(a[:, axis])
        on = (np.abs(a[:, axis] - line) <= eps) & (np.abs(b[:, axis] - line) <= eps) & \
            (line >= 1) & (line <= grid.shape[1] - 1)
        if not on.any():
            continue
        idx = np.flatnonzero(on)
        lo = np.minimum(a[idx, 1 - axis], b[idx, 1 - axis])
        hi = np.maximum(a[idx, 1 - axis], b[idx, 1 - axis])
        first = np.floor(lo + TOL.geom_eps).clip(0, grid.shape[0]).astype(np.int64)
        last = np.ceil(hi - TOL.geom_eps).clip(0, grid.shape[0]).astype(np.int64)
        run, along = _expand(first, last)
        across = line[idx].astype(np.int64)[run]
        found.append(idx[run[grid[along, across - 1] & grid[along, across]]])
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _winding_at(a: np.ndarray, b: np.ndarray, points: np.ndarray, width: int) -> np.ndarray:
    """``(k,) int`` winding number of the closed edges a-b at each point (x, y), with y at a pixel
    centre row: ``winding_grid`` read at those points only, from a sort of the row crossings."""
    if not len(points):
        return np.zeros(0, dtype=np.int64)
    rows_at = points[:, 1] - 0.5
    height = int(rows_at.max()) + 1
    # only the crossings on the rows asked about (probes are few): the same sums, from fewer crossings
    rows = np.unique(rows_at.astype(np.int64))
    first = np.ceil(np.minimum(a[:, 1], b[:, 1]) - 0.5).clip(0, height).astype(np.int64)
    last = np.ceil(np.maximum(a[:, 1], b[:, 1]) - 0.5).clip(0, height).astype(np.int64)
    edge, at_row = _expand(np.searchsorted(rows, first), np.searchsorted(rows, last))
    row = rows[at_row]
    ay, by = a[edge, 1], b[edge, 1]
    x = a[edge, 0] + (row + 0.5 - ay) / (by - ay) * (b[edge, 0] - a[edge, 0])
    col = np.ceil(x - 0.5).clip(0, width).astype(np.int64)
    sign = np.where(by > ay, -1, 1)
    key = row * (width + 2) + col
    order = np.argsort(key, kind="stable")
    key, total = key[order], np.concatenate([[0], np.cumsum(sign[order])])
    at = rows_at.astype(np.int64) * (width + 2)
    here = np.floor(points[:, 0]).astype(np.int64)  # crossings at col <= the point's pixel count
    return total[np.searchsorted(key, at + here, side="right")] - total[np.searchsorted(key, at, side="left")]


def _uncovering_rings(rings: list[np.ndarray], solid: np.ndarray) -> set[int]:
    """Rings to blame for solid pixels that the outline does not hold whole: the owners of edges
    through such a pixel, and for a pixel left outside, every ring whose bounding box reaches it.
    Whole-image raster reference for ``_uncovering_local`` (which the mesher uses)."""
    height, width = solid.shape
    if not rings:
        return set()
    cut_spans = _cut_spans(*_ring_edges(rings), width, height)
    row, c0, c1, edge = cut_spans
    cut = _span_grid(row, c0, c1, width, height)
    wind = winding_grid(rings, width, height)
    fail = solid & ((wind <= 0) | cut)
    if not fail.any():
        return set()
    owner = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    prefix = np.zeros((height, width + 1), dtype=np.int32)
    prefix[:, 1:] = fail
    prefix = _row_cumsum(prefix)
    hits = prefix[row, c1] - prefix[row, c0] > 0
    bad = set(owner[edge[hits]].tolist())
    ys, xs = np.nonzero(solid & (wind <= 0) & ~cut)
    if len(ys):
        boxes = _boxes(rings)
        for start in range(0, len(ys), 4096):
            y, x = ys[start:start + 4096, None], xs[start:start + 4096, None]
            near = (x + 1 >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y + 1 >= boxes[:, 1]) & (y <= boxes[:, 3])
            bad.update(np.flatnonzero(near.any(axis=0)).tolist())
    return bad


def _ring_edges(rings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) points of every edge of the closed rings, ``(n, 2)`` each."""
    points = np.concatenate(rings)
    return points, points[_next_index([len(r) for r in rings])]


def winding_grid(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """``(height, width) int`` winding number of the closed rings at each pixel centre (solid-left
    rings count +1), by signed scanline crossings: O(crossings + pixels)."""
    a, b = _ring_edges(rings)
    row, edge = _row_spans(np.ceil(np.minimum(a[:, 1], b[:, 1]) - 0.5),
                           np.ceil(np.maximum(a[:, 1], b[:, 1]) - 0.5), height)
    ay, by = a[edge, 1], b[edge, 1]
    x = a[edge, 0] + (row + 0.5 - ay) / (by - ay) * (b[edge, 0] - a[edge, 0])
    col = np.ceil(x - 0.5).clip(0, width).astype(np.int64)
    at = row * (width + 1) + col
    down = by > ay
    size = height * (width + 1)
    diff = _counts(at[~down], size) - _counts(at[down], size)
    return _row_cumsum(diff.reshape(height, width + 1))[:, :width]


def edge_pixels(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """``(height, width) bool``: pixels whose open interior an edge of the closed rings passes
    through (edges along pixel borders touch none)."""
    row, c0, c1, _ = _cut_spans(*_ring_edges(rings), width, height)
    return _span_grid(row, c0, c1, width, height)


def _cut_spans(a: np.ndarray, b: np.ndarray, width: int,
               height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, first col, end col, edge) of the pixel runs each edge a-b passes through, per row."""
    eps = TOL.geom_eps
    y0, y1 = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    row, edge = _row_spans(np.floor(y0 + eps), np.ceil(y1 - eps), height)  # not rows grazed by float noise
    ax, ay, dx, dy = a[edge, 0], a[edge, 1], b[edge, 0] - a[edge, 0], b[edge, 1] - a[edge, 1]
    flat = dy == 0
    slope = dx / np.where(flat, 1.0, dy)
    xa = np.where(flat, ax, ax + (np.maximum(y0[edge], row) - ay) * slope)
    xb = np.where(flat, ax + dx, ax + (np.minimum(y1[edge], row + 1) - ay) * slope)
    c0 = np.floor(np.minimum(xa, xb) + eps).clip(0, width).astype(np.int64)
    c1 = np.ceil(np.maximum(xa, xb) - eps).clip(0, width).astype(np.int64)
    ok = c1 > c0
    return row[ok], c0[ok], c1[ok], edge[ok]


def _span_grid(row: np.ndarray, c0: np.ndarray, c1: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(height, width) bool`` union of the column runs [c0, c1) in each row."""
    size = height * (width + 1)
    diff = _counts(row * (width + 1) + c0, size) - _counts(row * (width + 1) + c1, size)
    return _row_cumsum(diff.reshape(height, width + 1))[:, :width] > 0


def _counts(index: np.ndarray, size: int) -> np.ndarray:
    """``(size,) int`` occurrences of each flat index (``np.add.at`` of ones, much faster)."""
    return np.bincount(index, minlength=size)


def _row_cumsum(grid: np.ndarray) -> np.ndarray:
    """Cumulative sum along each row of a C-contiguous 2D integer array, in place: one flat
    cumsum (much faster than ``cumsum(axis=1)``) minus each row's carried-in total."""
    flat = grid.reshape(-1)
    np.cumsum(flat, out=flat)
    if len(grid) > 1:
        carry = grid[:-1, -1].copy()
        grid[1:] -= carry[:, None]
    return grid


def _row_spans(first: np.ndarray, last: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, edge) for every row in [first, last) of each edge, clipped to [0, height)."""
    first = first.clip(0, height).astype(np.int64)
    counts = np.maximum(last.clip(0, height).astype(np.int64) - first, 0)
    edge = np.repeat(np.arange(len(first)), counts)
    row = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + first[edge]
    return row, edge


def segments_touch(p: np.ndarray, p2: np.ndarray, q: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """``(n,) bool``: segment p-p2 crosses or touches segment q-q2, row by row."""
    r, v = p2 - p, q2 - q

    def cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x[:, 0] * y[:, 1] - x[:, 1] * y[:, 0]

    def on(point: np.ndarray, start: np.ndarray, d: np.ndarray, side: np.ndarray) -> np.ndarray:
        length2 = (d * d).sum(1)
        dot = ((point - start) * d).sum(1)
        return (np.abs(side) <= eps * np.sqrt(length2)) & (dot >= -eps) & (dot <= length2 + eps)

    eps = TOL.geom_eps
    d1, d2 = cross(r, q - p), cross(r, q2 - p)
    d3, d4 = cross(v, p - q), cross(v, p2 - q)
    proper = (((d1 > eps) & (d2 < -eps)) | ((d1 < -eps) & (d2 > eps))) & \
        (((d3 > eps) & (d4 < -eps)) | ((d3 < -eps) & (d4 > eps)))
    return proper | on(q, p, r, d1) | on(q2, p, r, d2) | on(p, q, v, d3) | on(p2, q, v, d4)


def _box_groups(boxes: np.ndarray) -> np.ndarray:
    """``(r,) int`` group of each box (x0, y0, x1, y1): connected components of box overlap
    (closed boxes, as the crossing sweep compares them), by a sweep over x."""
    from pipelines.graph_components import components  # scipy.sparse: imported only for sheets

    count = len(boxes)
    order = np.argsort(boxes[:, 0], kind="stable")
    sorted_boxes = boxes[order]
    counts = np.maximum(np.searchsorted(sorted_boxes[:, 0], sorted_boxes[:, 2], side="right") -
                        np.arange(count) - 1, 0)
    i, j = _expand(np.arange(count) + 1, np.arange(count) + 1 + counts)
    near = (sorted_boxes[j, 1] <= sorted_boxes[i, 3]) & (sorted_boxes[i, 1] <= sorted_boxes[j, 3])
    return components(count, order[i[near]], order[j[near]])


def _crossing_rings(rings: list[np.ndarray]) -> set[int]:
    """Indices of rings whose edges touch or cross another ring's, or their own non-adjacent ones."""
    owner = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    return set(owner[_crossing_edges(rings)].tolist())


def _crossing_edges(rings: list[np.ndarray]) -> np.ndarray:
    """Sorted indices (into the rings' concatenated edges, edge k from point k to the next of its
    ring) of the edges that touch or cross another ring's, or a non-adjacent one of their own ring.

    Sweep over x: only edge pairs whose bounding boxes overlap are tested, in bounded chunks. With
    many rings (sheets) the sweep runs per group of rings whose boxes overlap (``_box_groups``): the
    x keys of each group are shifted past the previous group's, so a column of separate sprites is
    not one long sweep (fantasy UI sheet: 76k edge pairs -> a few thousand; same answer, as edges of
    rings whose widened boxes do not meet cannot touch)."""
    sizes = np.array([len(r) for r in rings])
    a, b = _ring_edges(rings)
    owner = np.repeat(np.arange(len(rings)), sizes)
    local = np.arange(len(a)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    eps = TOL.geom_eps
    lo, hi = np.minimum(a, b) - eps, np.maximum(a, b) + eps
    x_lo, x_hi = lo[:, 0], hi[:, 0]
    n = len(a)
    order = np.argsort(x_lo, kind="stable")
    counts = np.searchsorted(x_lo[order], x_hi[order], side="right") - np.arange(n) - 1
    if int(counts.sum()) > GROUPED_SWEEP_PAIRS:
        group = _box_groups(_boxes(rings))[owner]
        base = float(x_lo.min())
        stride = float(x_hi.max()) - base + 1.0
        x_lo = group * stride + (x_lo - base)  # rounding is monotonic: no overlap in a group is lost
        x_hi = group * stride + (x_hi - base)
        order = np.argsort(x_lo, kind="stable")
        counts = np.searchsorted(x_lo[order], x_hi[order], side="right") - np.arange(n) - 1
    a, b, owner, local, lo, hi = a[order], b[order], owner[order], local[order], lo[order], hi[order]
    counts = np.maximum(counts, 0)
    bad: list[np.ndarray] = []
    start = 0
    budget = np.cumsum(counts)
    while start < n:
        stop = max(int(np.searchsorted(budget, budget[start] - counts[start] + TOL.pair_chunk, side="right")),
                   start + 1)
        c = counts[start:stop]
        i = np.repeat(np.arange(start, stop), c)
        j = i + 1 + np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        near = (lo[j, 1] <= hi[i, 1]) & (lo[i, 1] <= hi[j, 1])
        step = np.abs(local[i] - local[j])
        ring_size = sizes[owner[i]]
        near &= ~((owner[i] == owner[j]) & ((step == 1) | (step == ring_size - 1)))
        i, j = i[near], j[near]
        hit = segments_touch(a[i], b[i], a[j], b[j])
        bad += [order[i[hit]], order[j[hit]]]
        start = stop
    return np.unique(np.concatenate(bad)) if bad else np.zeros(0, dtype=np.int64)


# ---------------------------------------------------------------- triangulation


def triangulate(outline: list[Ring], params: ContourParams) -> Mesh:
    """Constrained quality triangulation of the outline; boundary loops first, in ring order."""
    sizes = [len(r.points) for r in outline]
    vertices = np.concatenate([r.points for r in outline])
    segments = _ring_segments(sizes)
    holes = _hole_points(vertices, segments, outline) if any(r.is_hole for r in outline) else None
    budget = max(params.max_vertices - len(vertices), 0)
    area = _max_area(outline, params)
    best, best_angle = None, -1.0
    for angle in TOL.angle_ladder:  # each rung whose refinement respects min_triangle_area, then 0
        if angle == 0 and best is not None:  # unrefined never beats an accepted refined rung
            break
        result = _run_triangle(vertices, segments, holes, angle, area, budget, params.outline_steiner)
        if _smallest_refined(result, len(vertices)) < params.min_triangle_area and angle != 0:
            continue
        angles = min_angles(result["vertices"], result["triangles"])
        worst = float(angles.min())
        if worst > best_angle + TOL.ladder_gain_deg:
            best, best_angle = result, worst
        if worst >= angle:  # this rung met its own target: lower rungs cannot do better on purpose
            break
        if result is best and not params.outline_steiner and _outline_bound(result, angles, len(vertices)):
            # the outline's own slivers decide the worst angle and refinement will not run: a lower rung
            # would cost a Triangle call for the same result
            break
    if not params.outline_steiner:  # Triangle gives up next to unsplittable segments: finish the job
        best = improve(best, len(vertices), segments, holes, params, area)
    return _rings_first(best, sizes) or _hull_first(best["vertices"], best["triangles"])


def _outline_bound(result: dict, angles: np.ndarray, fixed: int) -> bool:
    """Whether a lower rung is not worth its Triangle call after ``result`` missed its target: the
    worst triangle has outline vertices only (a sliver Triangle left because splitting it would
    encroach an unsplittable segment; a lower rung leaves it too) and there are more than
    ``MAX_BAD`` triangles under 20 degrees (so ``improve`` will not run either). Measured over the
    sprite corpus, a lower rung never did better under both conditions; these are the large
    sheets, where each rung costs the most."""
    if np.count_nonzero(angles < TOL.min_angle_deg) <= MAX_BAD:
        return False
    return bool((result["triangles"][int(np.argmin(angles))] < fixed).all())


def _rings_first(result: dict, sizes: list[int]) -> Mesh | None:
    """The mesh with the input rings as its loops, when Triangle kept them as they were: the
    input vertices first and in order (Triangle's numbering), no segment split, each used.
    None otherwise (split segments), for the general ``_hull_first``."""
    n = sum(sizes)
    tris = result["triangles"]
    if len(result["segments"]) != n or np.bincount(tris.ravel(), minlength=n)[:n].min() == 0:
        return None
    starts = np.cumsum([0, *sizes]).tolist()
    return Mesh(result["vertices"], tris, [np.arange(a, b) for a, b in pairwise(starts)])


def _ring_segments(sizes: list[int]) -> np.ndarray:
    """``(n, 2) int`` edges closing each consecutive ring."""
    nxt = _next_index(sizes)
    return np.stack([np.arange(len(nxt)), nxt], axis=1)


def _next_index(sizes: list[int]) -> np.ndarray:
    """``(n,) int`` index of the next point of the same ring, for consecutive rings of ``sizes``."""
    return _links(np.asarray(sizes, dtype=np.int64))[1]


def _hole_points(vertices: np.ndarray, segments: np.ndarray, outline: list[Ring]) -> np.ndarray | None:
    """One point in the empty region each hole ring bounds, for Triangle's hole eating (the
    outside needs none: Triangle eats inward from the convex hull, and rings never touch).

    Rings have the solid on their left, so a hole's empty region is on the right of its walk: from
    the middle of the hole's longest segment a ray goes right, and the point halfway to the first
    outline segment it meets is inside that region (the hole ring itself closes it, so only the
    segments in the hole's bounding box can be met first; those are found among the segments of the
    rings whose bounding box meets it)."""
    sizes = np.array([len(r.points) for r in outline], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    holes = np.flatnonzero([r.is_hole for r in outline])
    if not len(holes):
        return None
    a, b = vertices[segments[:, 0]], vertices[segments[:, 1]]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    owner, own_seg = _expand(starts[holes], starts[holes] + sizes[holes])  # each hole's segments
    order = np.lexsort((-length[own_seg], owner))  # per hole, longest first, earliest among equals
    first = np.flatnonzero(np.r_[True, owner[order][1:] != owner[order][:-1]])
    longest = own_seg[order[first]]
    origin = (a[longest] + b[longest]) / 2
    ray = np.stack([d[longest, 1], -d[longest, 0]], axis=1) / length[longest, None]  # right of the walk
    boxes = _boxes([r.points for r in outline])
    box = boxes[holes]
    pair_hole, pair_ring = np.nonzero((boxes[None, :, 0] <= box[:, None, 2]) & (boxes[None, :, 2] >= box[:, None, 0]) &
                                      (boxes[None, :, 1] <= box[:, None, 3]) & (boxes[None, :, 3] >= box[:, None, 1]))
    pair, seg = _expand(starts[pair_ring], starts[pair_ring] + sizes[pair_ring])  # segments of rings near each hole
    hole = pair_hole[pair]
    seg_lo, seg_hi = np.minimum(a[seg], b[seg]), np.maximum(a[seg], b[seg])
    near = ((seg_lo[:, 0] <= box[hole, 2]) & (seg_hi[:, 0] >= box[hole, 0]) &
            (seg_lo[:, 1] <= box[hole, 3]) & (seg_hi[:, 1] >= box[hole, 1]))
    hole, seg = hole[near], seg[near]
    keep = seg != longest[hole]
    hole, seg = hole[keep], seg[keep]
    rel = a[seg] - origin[hole]
    e, r = d[seg], ray[hole]
    denom = r[:, 0] * e[:, 1] - r[:, 1] * e[:, 0]
    safe = np.where(np.abs(denom) > 1e-12, denom, 1.0)
    t = (rel[:, 0] * e[:, 1] - rel[:, 1] * e[:, 0]) / safe
    u = (rel[:, 0] * r[:, 1] - rel[:, 1] * r[:, 0]) / safe
    hit = (np.abs(denom) > 1e-12) & (t > TOL.geom_eps) & (u >= -TOL.geom_eps) & (u <= 1 + TOL.geom_eps)
    first = np.full(len(holes), np.inf)
    np.minimum.at(first, hole[hit], t[hit])
    if not np.isfinite(first).all():  # cannot happen for closed, non-touching rings
        raise InputError("TRIANGULATION_FAILED", "a hole has no inside", {"holes": len(holes)})
    return origin + ray * (first / 2)[:, None]


def triangle_neighbors(tris: np.ndarray) -> np.ndarray:
    """``(t, 3) int``: the triangle across the edge opposite each corner, -1 on the border
    (what Triangle's 'n' switch reports, computed here so that switch is not needed)."""
    t = len(tris)
    edges = np.concatenate([tris[:, [1, 2]], tris[:, [2, 0]], tris[:, [0, 1]]]).astype(np.int64)
    edges.sort(axis=1)
    key = edges[:, 0] * (int(tris.max(initial=0)) + 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    same = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
    out = np.full(3 * t, -1, dtype=np.int64)
    first, second = order[same], order[same + 1]
    out[first] = second % t
    out[second] = first % t
    return out.reshape(3, t).T


def _max_area(outline: list[Ring], params: ContourParams) -> float | None:
    """Triangle's area constraint for interior vertices, or None when density is 0."""
    if params.internal_vertex_density <= 0:
        return None
    return max(params.density_scaling_factor / params.internal_vertex_density, params.min_triangle_area)


def _run_triangle(vertices: np.ndarray, segments: np.ndarray, holes: np.ndarray | None, angle: float,
                  area: float | None, budget: int, split_outline: bool = False) -> dict:
    """One Triangle call: 'p' PSLG, 'YY' no Steiner points on segments (unless ``split_outline``),
    'S' Steiner budget."""
    opts = triangle_options(budget, angle, area, split_outline=split_outline)
    result = triangle.triangulate(triangle_input(vertices, segments, holes), opts)
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


def _hull_first(vertices: np.ndarray, triangles: np.ndarray) -> Mesh:
    """Reorder so boundary loops come first in walk order, then interior vertices; drop unused."""
    n = len(vertices)
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]).astype(np.int64)
    key = directed[:, 0] * n + directed[:, 1]
    rev = directed[:, 1] * n + directed[:, 0]
    boundary = np.unique(key[~np.isin(rev, key)])
    heads, tails = boundary // n, boundary % n
    if len(np.unique(heads)) != len(heads):  # a vertex on two loops: walk them in order
        return _hull_first_pinched(vertices, triangles)
    following = np.full(n, -1, dtype=np.int64)
    following[heads] = tails
    nxt = following.tolist()
    seen = [False] * n
    loops = []
    for start in heads.tolist():  # ascending, so each loop starts at its smallest vertex
        if seen[start]:
            continue
        loop, v = [], start
        while not seen[v]:
            seen[v] = True
            loop.append(v)
            v = nxt[v]
        loops.append(loop)
    return _reorder(vertices, triangles, loops)


def _hull_first_pinched(vertices: np.ndarray, triangles: np.ndarray) -> Mesh:
    """``_hull_first`` for boundaries where a vertex starts more than one boundary edge."""
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
    return _reorder(vertices, triangles, loops)


def _reorder(vertices: np.ndarray, triangles: np.ndarray, loops: list[list[int]]) -> Mesh:
    """Loop vertices first (in loop order), then the other used vertices ascending."""
    order = np.array(list(dict.fromkeys(v for loop in loops for v in loop)), dtype=np.int64)
    inner = np.setdiff1d(np.unique(triangles), order)
    order = np.concatenate([order, inner]).astype(np.int64)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    new_loops = [remap[np.array(loop, dtype=np.int64)] for loop in loops]
    return Mesh(vertices[order], remap[triangles], new_loops)


def mesh_edges(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """(boundary edges in loop order, other undirected edges ascending), ``(k, 2) int`` each.
    An edge of two triangles is internal; one of a single triangle is on a loop."""
    order = np.concatenate(mesh.loops).astype(np.int64)
    boundary = np.stack([order, order[_next_index([len(loop) for loop in mesh.loops])]], axis=1)
    tris = mesh.triangles.astype(np.int64)
    n = max(len(mesh.vertices), 1)
    a, b = tris.ravel(), tris[:, [1, 2, 0]].ravel()
    keys = np.sort(np.minimum(a, b) * n + np.maximum(a, b))
    shared = keys[1:][keys[1:] == keys[:-1]]
    return boundary, np.stack([shared // n, shared % n], axis=1)


# ---------------------------------------------------------------- metrics


def outline_rings(result: dict) -> list[np.ndarray]:
    """The outline loops of a result, as ``(n, 2) float`` point rings, from its boundary edges.

    For quality figures off the hot path (``forced_min_angle`` is too slow to compute per job).
    """
    points = np.asarray(result["vertices"], dtype=float)
    following = {int(a): int(b) for a, b in result["boundary_edges"]}
    rings, seen = [], set()
    for start in following:
        if start in seen:
            continue
        loop, at = [], start
        while at not in seen:
            seen.add(at)
            loop.append(at)
            at = following.get(at, start)
        rings.append(points[loop])
    return rings


def forced_min_angle(rings: list[np.ndarray], cap: float = 60.0, *, split_outline: bool = False,
                     pairs: bool = True) -> float:
    """Degrees: an upper bound on the smallest angle any triangulation of the outline can reach
    when outline segments are not split (interior Steiner points allowed), i.e. what the outline
    itself forces; ``cap`` when nothing forces less. The minimum over these necessary conditions:

    - corners: a triangle at a vertex has an angle no larger than the solid's corner angle there;
    - clearance: the triangle on segment AB with min angle >= t contains the isosceles triangle
      on AB with base angles t, so t is at most the angle at which that triangle, grown, first
      meets another vertex (``max`` of its angles at A and B) or segment (crossing AB's bisector);
    - grading: the fan of triangles at a vertex between its two segments (lengths l < L, corner
      angle phi) must grow the edge length by L / l; k triangles with angles >= t each grow it by
      at most ``sin(min(phi / k + t, 90)) / sin(t)``, which bounds t for short segments;
    - short segments: the one triangle on a segment next to a much longer one takes angle at both of
      its ends at once, and what is left at each end must still grade to the longer segment there
      (``_segment_bound``); the grading condition alone gives each end its whole corner;
    - pairs: an unsplit segment is an edge of exactly one triangle (on the solid's side), two
      segments without a common vertex cannot be edges of the same triangle, and triangles do
      not overlap; so the isosceles triangles with base angles t on two such segments (each
      inside its segment's triangle, as above) must not overlap either. Clearance alone misses
      this: on an L x w strip it allows atan(2w / L) (the triangle on one long side rising to the
      other side), but the triangle on the other long side needs the same room, so t <= atan(w / L)
      (reached by a single interior vertex at the strip's centre).

    With ``split_outline`` (segments may be split) only the corners force anything; ``pairs=False``
    leaves the pairs condition out (the bound as it was first written, for comparisons).
    """
    rings = [np.asarray(r, dtype=float) for r in rings if len(r) >= 3]
    if not rings:
        return cap
    pts = np.concatenate(rings)
    prv = np.concatenate([_prev(r) for r in rings])
    nxt = np.concatenate([_next(r) for r in rings])
    u, v = prv - pts, nxt - pts
    corner = np.degrees(np.mod(-np.arctan2(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0], (u * v).sum(1)), 2 * np.pi))
    best = min(cap, float(corner.min()))
    if split_outline:
        return best
    l_in, l_out = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
    best = min(best, _grading_bound(corner, l_in, l_out, cap))
    best = min(best, _segment_bound(corner, l_in, l_out, _next_index([len(r) for r in rings]), best))
    best = min(best, _clearance_bound(rings, pts, nxt, cap))
    return min(best, _pair_bound(rings, pts, nxt, cap)) if pairs else best


def _grading_bound(corner: np.ndarray, l_in: np.ndarray, l_out: np.ndarray, cap: float) -> float:
    """The grading condition of ``forced_min_angle``, by bisection on t at the worst vertices."""
    ratio = np.maximum(l_in, l_out) / np.maximum(np.minimum(l_in, l_out), 1e-12)
    sel = ratio > 1.5
    if not sel.any():
        return cap
    phi, log_r = np.radians(corner[sel]), np.log(ratio[sel])
    lo, hi = 0.0, math.radians(cap)
    if (_fan_reach(phi, hi) >= log_r).all():
        return cap
    for _ in range(30):
        mid = (lo + hi) / 2
        if (_fan_reach(phi, mid) >= log_r).all():
            lo = mid
        else:
            hi = mid
    return math.degrees(lo)


FAN_STEPS = np.arange(1, 65, dtype=float)


def _fan_reach(psi: np.ndarray, t: float) -> np.ndarray:
    """An upper bound on ``|log|`` of the ratio between the first and last edge of a fan of
    triangles at one vertex spanning ``psi`` (radians), every angle >= ``t``: k triangles grow it by
    at most ``k log(sin(min(psi / k + t, 90)) / sin t)``, tried for k <= 64; past that (psi / t > 64)
    also ``psi cot t``, which bounds every k (``sin(x + t) <= sin t + x cos t``). -inf when
    ``psi < t`` (no triangle fits). Non-decreasing in ``psi``, non-increasing in ``t``."""
    share = psi[..., None] / FAN_STEPS
    gain = FAN_STEPS * np.log(np.sin(np.minimum(share + t, np.pi / 2)) / math.sin(t))
    best = np.where(share >= t, gain, -np.inf).max(axis=-1)
    return np.where(psi > len(FAN_STEPS) * t, np.maximum(best, psi / math.tan(t)), best)


SEGMENT_GRID = 24      # angle cells per end in the short-segment condition
SEGMENT_CHUNK = 256    # segments tested at once (memory: chunk x grid^2 cells)


def _segment_bound(corner: np.ndarray, l_in: np.ndarray, l_out: np.ndarray, nidx: np.ndarray,
                   cap: float) -> float:
    """The short-segment condition of ``forced_min_angle``: the largest t (bisection) at which every
    segment next to a much longer one may still have its one triangle, with both ends' fans graded.
    Segment AB (length s; corner angles phi_a, phi_b; the other segments at A and B of lengths
    L_a, L_b) is an edge of exactly one triangle ABC, with angles alpha, beta at A, B; then
    ``|AC| = s sin(beta) / sin(alpha + beta)``, and the rest of A's fan (``phi_a - alpha``: nothing,
    with C the vertex before A and ``|AC| = L_a``, or at least t) must grade ``|AC|`` to ``L_a``
    (``_fan_reach``), and B's likewise. The grading condition takes each end alone, as if the
    triangle on AB took nothing there. (alpha, beta) is searched over a grid of cells, each tested
    with interval bounds that can only widen what is possible, so a t found impossible is."""
    s, la, lb = l_out, l_in, l_out[nidx]
    sel = np.flatnonzero(np.maximum(la, lb) > 1.5 * s)
    if not len(sel):
        return cap
    ends = (s[sel], la[sel], lb[sel], np.radians(corner[sel]), np.radians(corner[nidx[sel]]))
    lo, hi = 0.0, math.radians(cap)
    todo = np.arange(len(sel))
    for step in range(31):
        t = hi if step == 0 else (lo + hi) / 2
        ok = np.concatenate([_segment_possible(*(e[todo[i:i + SEGMENT_CHUNK]] for e in ends), t)
                             for i in range(0, len(todo), SEGMENT_CHUNK)])
        if ok.all():
            if step == 0:
                return cap
            lo = t
        else:
            hi, todo = t, todo[~ok]  # possible at t stays possible below it
    return math.degrees(hi)


@np.errstate(divide="ignore", invalid="ignore")  # cells outside the triangle's range are masked
def _segment_possible(s: np.ndarray, la: np.ndarray, lb: np.ndarray, phi_a: np.ndarray, phi_b: np.ndarray,
                      t: float) -> np.ndarray:
    """``(k,) bool``: whether some cell of (alpha, beta) may satisfy ``_segment_bound``'s conditions
    at t, for each segment; False only where none can."""
    cells = (np.arange(SEGMENT_GRID + 1) / SEGMENT_GRID)[None, :]
    ea, eb = np.minimum(phi_a, np.pi)[:, None] * cells, np.minimum(phi_b, np.pi)[:, None] * cells
    a0, a1 = np.maximum(ea[:, :-1], t)[:, :, None], ea[:, 1:, None]
    b0, b1 = np.maximum(eb[:, :-1], t)[:, None, :], eb[:, None, 1:]
    valid = (a0 <= a1) & (b0 <= b1) & (a0 + b0 <= np.pi - t)
    s0, s1 = a0 + b0, np.maximum(np.minimum(a1 + b1, np.pi - t), a0 + b0)
    sig_lo, sig_hi = _log_sin_range(s0, s1)
    log_s = np.log(s)[:, None, None]
    ok_a = _end_possible(log_s, _log_sin_range(b0, np.maximum(b1, b0)), sig_lo, sig_hi, la, phi_a, a0, a1, t)
    ok_b = _end_possible(log_s, _log_sin_range(a0, np.maximum(a1, a0)), sig_lo, sig_hi, lb, phi_b, b0, b1, t)
    return (valid & ok_a & ok_b).any(axis=(1, 2))


def _end_possible(log_s: np.ndarray, opposite: tuple[np.ndarray, np.ndarray], sig_lo: np.ndarray,
                  sig_hi: np.ndarray, other: np.ndarray, phi: np.ndarray, x0: np.ndarray, x1: np.ndarray,
                  t: float) -> np.ndarray:
    """Whether one end's fan may close: the side from it to C (``s sin(opposite) / sin(sum)``, an
    interval) reaches the other segment's length ``other`` with the fan angle left (``phi - x``)."""
    lo, hi = log_s + opposite[0] - sig_hi, log_s + opposite[1] - sig_lo
    target = np.log(other)[:, None, None]
    need = np.maximum(np.maximum(target - hi, lo - target), 0.0)
    phi = phi[:, None, None]
    closed = (x0 <= phi) & (phi <= x1) & (need <= 1e-9)        # C is the vertex there: nothing left to fan
    fanned = (phi - x0 >= t) & (need <= _fan_reach(phi - x0, t))
    return closed | fanned


def _log_sin_range(x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of ``log sin`` over ``[x0, x1]`` within ``[0, pi]`` (sin rises to pi/2, then falls)."""
    with np.errstate(divide="ignore"):
        ends = np.log(np.maximum(np.sin(x0), 0.0)), np.log(np.maximum(np.sin(x1), 0.0))
    top = np.where((x0 <= np.pi / 2) & (np.pi / 2 <= x1), 0.0, np.maximum(*ends))
    return np.minimum(*ends), top


def _clearance_bound(rings: list[np.ndarray], pts: np.ndarray, nxt: np.ndarray, cap: float) -> float:
    """The clearance condition of ``forced_min_angle``, with k-d trees for the near obstacles."""
    from scipy.spatial import cKDTree

    starts = np.cumsum([0] + [len(r) for r in rings])
    idx = np.arange(len(pts))
    nidx = idx + 1
    nidx[starts[1:] - 1] = starts[:-1]
    d = nxt - pts
    length = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
    along = d / length[:, None]
    inward = np.stack([-along[:, 1], along[:, 0]], axis=1)  # the solid's side (left of the walk)
    mid = (pts + nxt) / 2
    radius = length * 0.5 / math.cos(math.radians(cap))
    best = np.full(len(pts), cap)
    # other vertices inside the growing isosceles triangle
    si, vi = _ball_pairs(cKDTree(pts), mid, radius)
    rel = pts[vi] - pts[si]
    t, h = (rel * along[si]).sum(1), (rel * inward[si]).sum(1)
    ok = (h > TOL.geom_eps) & (t > TOL.geom_eps) & (t < length[si] - TOL.geom_eps) & (vi != si) & (vi != nidx[si])
    np.minimum.at(best, si[ok], np.degrees(np.arctan2(h[ok], np.minimum(t[ok], length[si][ok] - t[ok]))))
    # other segments crossing the bisector of AB on the solid's side, grouped by length
    group = np.floor(np.log2(length)).astype(np.int64)
    for g in np.unique(group).tolist():
        members = np.flatnonzero(group == g)
        si, k = _ball_pairs(cKDTree(mid[members]), mid, radius + 2.0 ** (g + 1) / 2)
        sj = members[k]
        keep = si != sj
        si, sj = si[keep], sj[keep]
        p, q = pts[sj] - mid[si], nxt[sj] - mid[si]
        tp, tq = (p * along[si]).sum(1), (q * along[si]).sum(1)
        hp, hq = (p * inward[si]).sum(1), (q * inward[si]).sum(1)
        cross = tp * tq < 0
        w = np.where(cross, tp / np.where(cross, tp - tq, 1.0), 0.0)
        hc = hp + w * (hq - hp)
        ok = cross & (hc > TOL.geom_eps)
        np.minimum.at(best, si[ok], np.degrees(np.arctan2(2 * hc[ok], length[si][ok])))
    return float(best.min())


def _pair_bound(rings: list[np.ndarray], pts: np.ndarray, nxt: np.ndarray, cap: float) -> float:
    """The pairs condition of ``forced_min_angle``: the largest t (bisection per pair) at which the
    isosceles triangles with base angles t on every two segments without a common vertex do not
    overlap, over the pairs that may meet at ``cap`` (k-d tree on segment midpoints)."""
    from scipy.spatial import cKDTree

    starts = np.cumsum([0] + [len(r) for r in rings])
    nidx = np.arange(len(pts)) + 1
    nidx[starts[1:] - 1] = starts[:-1]
    d = nxt - pts
    length = np.linalg.norm(d, axis=1)
    mid = (pts + nxt) / 2
    reach = length / 2 * max(1.0, math.tan(math.radians(cap)))  # the triangle at cap lies within this of mid
    group = np.floor(np.log2(np.maximum(reach, 1e-12))).astype(np.int64)
    found_i, found_j = [], []
    for g in np.unique(group).tolist():  # per length group, so a few long segments do not widen every query
        members = np.flatnonzero(group == g)
        qi, k = _ball_pairs(cKDTree(mid[members]), mid, reach + reach[members].max())
        found_i.append(qi)
        found_j.append(members[k])
    si, sj = np.concatenate(found_i), np.concatenate(found_j)
    keep = (si < sj) & (np.hypot(*(mid[si] - mid[sj]).T) < reach[si] + reach[sj])
    keep &= (nidx[si] != sj) & (nidx[sj] != si)
    si, sj = si[keep], sj[keep]
    lo, hi = 0.0, math.radians(cap)
    meet = _isosceles_overlap(pts, nxt, si, sj, hi)
    if not meet.any():
        return cap
    si, sj = si[meet], sj[meet]
    for _ in range(40):  # on the smallest t over the pairs; a pair apart at some t cannot decide below it
        mid_t = (lo + hi) / 2
        over = _isosceles_overlap(pts, nxt, si, sj, mid_t)
        if over.any():
            hi, si, sj = mid_t, si[over], sj[over]
        else:
            lo = mid_t
    return math.degrees(lo)


def _isosceles_overlap(a: np.ndarray, b: np.ndarray, si: np.ndarray, sj: np.ndarray, t: float) -> np.ndarray:
    """``(k,) bool``: whether the isosceles triangles with base angles ``t`` (radians) on segments
    ``a[si] b[si]`` and ``a[sj] b[sj]`` (on their left, the solid's side) overlap with positive
    area (separating axis test over the six edge normals, touching allowed)."""
    def tri(s: np.ndarray) -> np.ndarray:
        d = b[s] - a[s]
        apex = (a[s] + b[s]) / 2 + np.stack([-d[:, 1], d[:, 0]], axis=1) * (0.5 * math.tan(t))
        return np.stack([a[s], b[s], apex], axis=1)

    p, q = tri(si), tri(sj)
    eps = 1e-9 * np.maximum(np.abs(p).max(axis=(1, 2)), 1.0)
    apart = np.zeros(len(si), dtype=bool)
    for shape in (p, q):
        for e in range(3):
            d = shape[:, (e + 1) % 3] - shape[:, e]
            n = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-300)[:, None]
            pp, qq = (p * n[:, None]).sum(-1), (q * n[:, None]).sum(-1)
            apart |= (pp.max(1) <= qq.min(1) + eps) | (qq.max(1) <= pp.min(1) + eps)
    return ~apart


def _ball_pairs(tree, centres: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query index, tree index) of every tree point within each query's radius."""
    found = tree.query_ball_point(centres, radii)
    counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    if not counts.sum():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.repeat(np.arange(len(found)), counts), np.fromiter((i for f in found for i in f), dtype=np.int64,
                                                                  count=int(counts.sum()))


def rasterize_loops(loops: list[np.ndarray], width: int, height: int, scale: int) -> np.ndarray:
    """``(height*scale, width*scale) bool``: sample centres inside the loops (even-odd rule)."""
    a, b = (end * scale for end in _ring_edges(list(loops)))
    rows_h, cols_w = height * scale, width * scale
    row, edge = _row_spans(np.ceil(np.minimum(a[:, 1], b[:, 1]) - 0.5),
                           np.ceil(np.maximum(a[:, 1], b[:, 1]) - 0.5), rows_h)
    t = (row + 0.5 - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
    x = a[edge, 0] + t * (b[edge, 0] - a[edge, 0])
    col = np.ceil(x - 0.5).clip(0, cols_w).astype(np.int64)
    crossings = _counts(row * (cols_w + 1) + col, rows_h * (cols_w + 1)).reshape(rows_h, cols_w + 1)
    return (_row_cumsum(crossings)[:, :cols_w] & 1).astype(bool)


def coverage_stats(loops: list[np.ndarray], alpha: np.ndarray, opaque_at: int, scale: int,
                   stride: int = 1) -> dict:
    """Share of pixels with alpha >= opaque_at the mesh covers, and share of mesh area over alpha 0,
    from ``scale`` x ``scale`` samples per pixel, or with ``stride`` > 1 from the centres of every
    ``stride``-th pixel in each direction only (an unbiased estimate for large images)."""
    if stride > 1:
        first = stride // 2
        alpha = alpha[first::stride, first::stride]
        sizes = np.cumsum([len(loop) for loop in loops]).tolist()
        moved = (np.concatenate(loops) - (first + 0.5)) / stride + 0.5  # all loops at once, same arithmetic
        loops = [moved[a:b] for a, b in pairwise([0, *sizes])]
        scale = 1
    h, w = alpha.shape
    inside = rasterize_loops(loops, w, h, scale)
    if scale > 1:
        inside = inside.reshape(h, scale, w, scale).mean(axis=(1, 3))
    opaque = alpha >= opaque_at
    area = inside.sum()
    return {
        "opaque_coverage": float(inside[opaque].mean()) if opaque.any() else 1.0,
        "wasted_area": float(inside[alpha == 0].sum() / area) if area > 0 else 0.0,
    }


def _sampling(width: int, height: int) -> tuple[int, int]:
    """(supersampling scale, pixel stride) keeping the metadata raster near ``TOL.coverage_samples``."""
    ratio = math.sqrt(TOL.coverage_samples / (width * height))
    if ratio >= 1:
        return max(1, min(TOL.max_supersample, int(ratio))), 1
    return 1, math.ceil(1 / ratio)


def _metadata(mesh: Mesh, outline: list[Ring], alpha: np.ndarray, params: ContourParams,
              held: np.ndarray, factor: int, closing_px: float) -> dict:
    """Counts, coverage of the thresholded pixels, wasted area and quality of the mesh."""
    height, width = alpha.shape
    ends = np.cumsum([len(loop) for loop in mesh.loops]).tolist()
    ordered = mesh.vertices[np.concatenate(mesh.loops)] if mesh.loops else mesh.vertices[:0]  # one gather
    loops = [ordered[a:b] for a, b in pairwise([0, *ends])]
    scale, stride = _sampling(width, height)
    if stride > 1:  # a large image: the strided raster estimate
        stats = coverage_stats(loops, alpha, max(params.alpha_threshold, 1), scale, stride)
    else:
        area = float(triangle_areas(mesh.vertices, mesh.triangles).sum())
        stats = held_coverage(loops, alpha, max(params.alpha_threshold, 1), held, factor, area, scale)
    return {
        "width": width, "height": height,
        "vertex_count": len(mesh.vertices), "triangle_count": len(mesh.triangles),
        "hull_vertex_count": int(sum(len(loop) for loop in mesh.loops)),
        "islands": sum(not r.is_hole for r in outline), "holes": sum(r.is_hole for r in outline),
        "opaque_coverage": round(stats["opaque_coverage"], 6), "wasted_area": round(stats["wasted_area"], 6),
        "min_angle_deg": round(float(min_angles(mesh.vertices, mesh.triangles).min()), 3),
        "budget_closing_px": round(closing_px, 3) if math.isfinite(closing_px) else None,
        "budget_box": math.isinf(closing_px),
        "params": params.as_dict(),
    }


def held_coverage(loops: list[np.ndarray], alpha: np.ndarray, opaque_at: int, held: np.ndarray, factor: int,
                  area: float, scale: int) -> dict:
    """``coverage_stats`` with ``scale`` x ``scale`` samples per pixel, without rasterising the
    mesh: the pixels of the held working mask (``factor`` image pixels per cell) are whole inside
    the outline by construction, so only the other pixels with alpha > 0 are sampled (the same
    coverage), and wasted area is the share of the exact mesh ``area`` not over alpha > 0."""
    height, width = alpha.shape
    inside = held if factor == 1 else held.repeat(factor, axis=0).repeat(factor, axis=1)[:height, :width]
    some = alpha > 0
    opaque = alpha >= opaque_at
    ry, rx = np.nonzero(some & ~inside)
    share = _inside_share(loops, rx, ry, scale)
    count = np.count_nonzero(opaque)  # count_nonzero, not sum: bool sums convert every element
    covered = np.count_nonzero(opaque & inside) + float(share[opaque[ry, rx]].sum())
    over_some = np.count_nonzero(some & inside) + float(share.sum())
    return {"opaque_coverage": covered / count if count else 1.0,
            "wasted_area": max(area - over_some, 0.0) / area if area > 0 else 0.0}


def _inside_share(loops: list[np.ndarray], xs: np.ndarray, ys: np.ndarray, scale: int) -> np.ndarray:
    """``(k,) float`` share of the ``scale`` x ``scale`` samples of each pixel (xs, ys) inside the
    loops (even-odd rule, as ``rasterize_loops``)."""
    if not len(xs):
        return np.zeros(0)
    a, b = (end * scale for end in _ring_edges(loops))
    sub = np.arange(scale)
    px = (xs[:, None, None] * scale + sub[None, None, :] + 0.5).repeat(scale, axis=1)
    py = (ys[:, None, None] * scale + sub[None, :, None] + 0.5).repeat(scale, axis=2)
    points = np.stack([px.ravel(), py.ravel()], axis=1)
    width = int(np.ceil(max(a[:, 0].max(), b[:, 0].max(), points[:, 0].max()))) + 1
    odd = _winding_at(a, b, points, width) % 2 != 0
    return odd.reshape(len(xs), scale * scale).mean(axis=1)


