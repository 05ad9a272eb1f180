"""Sprite image -> 2D triangle mesh with UVs and edges (seed 002), enclosing every opaque pixel.

Steps: alpha mask (max-pooled when large, ``pool_factor``) -> islands and holes traced on pixel
corners -> simplification that only moves the outline outward (away from the solid) -> the
outline tidied where it would force slivers -> Triangle with quality refinement and no
Steiner points on the outline -> hull-first vertex order, UVs,
edges and metadata (coverage and wasted area sampled, ``TOL.coverage_samples``; on small images
only the pixels the outline is not known to hold are sampled).

Here: the entry points, the mask, tracing and triangulation. Elsewhere: the outward
simplification (``contour_simplify``), the exact pixel-grid checks it relies on
(``contour_geometry``), the tidying of short segments (``contour_tidy``), rings as packed arrays
(``contour_rings``), Triangle quality past its own refinement (``contour_refine``), and coverage,
forced angles and metadata (``contour_metrics``); parameters and tolerances in ``contour_params``.

Coordinates are pixels from the image's top-left corner, pixel (col, row) covering
[col, col+1] x [row, row+1]; UVs are (x / width, y / height), origin top-left, within [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

import cv2
import numpy as np
import triangle

from pipelines.contour_geometry import swallowed_islands
from pipelines.contour_kernels import group_minima, hole_points, label_sizes, labels_in, refined_check
from pipelines.contour_metrics import mesh_metadata
from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_refine import (
    MAX_BAD,
    Islands,
    assembled,
    capped_kept_valid,
    equilateral_side,
    improve_islands,
    min_angles,
    triangle_areas,
    triangle_input,
    triangle_options,
    vertex_islands,
)
from pipelines.contour_rings import (
    Mesh,
    Packed,
    Ring,
    drop_repeats_batch,
    next_index,
    pack,
    ring_areas,
    ring_boxes,
    roll_next,
    signed_area,
    unpack,
)
from pipelines.contour_simplify import OverBudget, ring_tolerances, simplify_within_budget
from pipelines.contour_tidy import tidy_outline
from pipelines.errors import InputError, PipelineError
from pipelines.image_io import load_rgba
from pipelines.limits import LIMITS, Limits
from pipelines.progress import Progress, no_progress

FIRST_MARKER = 2  # segment markers this and up name input segments (Triangle gives 0 and 1 meanings)

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
    """Mesh an ``(h, w, 4) uint8`` RGBA array: seed 002's result with numpy arrays (``vertices``
    and ``uvs`` float, the rest int), which JSON writes as its nested lists (``tasks.json_codec``)."""
    height, width = rgba.shape[:2]
    alpha = np.ascontiguousarray(rgba[..., 3])  # the strided view makes every full-image test ~5x slower
    outline, held, factor, closing_px = _outline_and_held(alpha, params, progress)
    progress(70, "Triangulating mesh...")
    mesh = triangulate(outline, params)
    progress(85, "Generating UV coordinates...")
    uvs = mesh.vertices / np.array([width, height], dtype=float)
    progress(95, "Calculating edges...")
    boundary, internal = mesh_edges(mesh)
    metadata = mesh_metadata(mesh, outline, alpha, params, held, factor, closing_px)
    progress(100, "Mesh generation complete")
    return {
        "vertices": np.round(mesh.vertices, 4), "triangles": mesh.triangles,
        "uvs": np.round(np.clip(uvs, 0.0, 1.0), 6), "boundary_edges": boundary,
        "internal_edges": internal, "hull": len(mesh.hull),
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
    """``sprite_outline`` and what it was made from (``_Outline``): the fitted outline, its short
    segments tidied outward (``tidy_outline``), less the islands another island's outline holds
    whole (``swallowed_islands``)."""
    fitted = _fitted_outline(alpha, params, progress)
    rings = tidy_outline(fitted.rings, alpha.shape[1], alpha.shape[0], ring_tolerances(fitted.rings, params, 1.0))
    if gone := swallowed_islands(rings):  # held whole inside another island's outline: meshed with it
        rings = [r for r in rings if r.island not in gone]
    return fitted._replace(rings=rings)


def _fitted_outline(alpha: np.ndarray, params: ContourParams, progress: Progress = no_progress) -> _Outline:
    """The outline simplified within the vertex budget and mapped back to image pixels (``_Outline``)."""
    height, width = alpha.shape
    progress(20, "Creating mask...")
    mask = build_mask(alpha, params)
    factor, pooled = _pooled(mask, params)
    progress(30, "Processing contours...")
    mask, rings = _cleaned_rings(pooled, params, factor, lambda: progress(40, "Finding contours..."))
    progress(50, "Simplifying contours...")
    budget = params.max_vertices
    for _ in range(TOL.unpool_budget_tries):
        outline, held, radius = _fit_budget(rings, pooled, mask, replace(params, max_vertices=budget), factor,
                                            progress)
        unpooled = unpool_rings(outline, factor, width, height)
        count = sum(len(r.points) for r in unpooled)
        if count <= params.max_vertices:
            return _Outline(unpooled, held, factor, radius * factor)
        # unpooling split segments where they enter the last cell: leave room for those points
        budget = min(budget - 1, params.max_vertices - (count - sum(len(r.points) for r in outline)))
        if budget < 4:
            break
    if params.max_vertices < 4:
        raise OverBudget("the outline does not fit max_vertices once mapped back to the image", count,
                         {"vertex_count": count, "max_vertices": params.max_vertices})
    outline, held, radius = _box_fit(mask)  # axis-aligned: unpooling adds no point to it
    return _Outline(unpool_rings(outline, factor, width, height), held, factor, radius)


def _cleaned_rings(mask: np.ndarray, params: ContourParams, factor: int,
                   traced: Callable[[], None] = lambda: None) -> tuple[np.ndarray, list[Ring]]:
    """A working mask (``factor`` image pixels a cell) cleaned (``clean_mask``) and its rings
    (``trace_rings``; ``traced`` is called between the two, for progress). Both work on the mask
    without its empty rows (``_busy_rows``): a sheet's gaps between rows of sprites cost them
    nothing, and the results are the same."""
    rows = _busy_rows(mask)
    work = mask if rows is None else mask[rows]
    cleaned = clean_mask(work, params, factor * factor)
    traced()
    rings = trace_rings(cleaned, min_hole_area=params.min_contour_area / (factor * factor),
                        min_hole_share=params.min_hole_share, min_hole_width=params.min_hole_width / factor)
    if rows is None:
        return cleaned, rings
    whole = np.zeros_like(mask)
    whole[rows] = cleaned
    corner_y = np.append(rows, rows[-1] + 1).astype(float)  # each kept row's top edge, then the last one's bottom
    for ring in rings:  # trace_rings made these points: moved in place
        ring.points[:, 1] = corner_y[ring.points[:, 1].astype(np.int64)]
    return whole, rings


def _busy_rows(mask: np.ndarray) -> np.ndarray | None:
    """The rows of ``mask`` with a set pixel or next to one, when they are under
    ``TOL.busy_rows_share`` of all (else None). Dropping the others changes no connected part, hole
    or traced ring (an empty row is kept on each side of every run dropped, so parts stay apart and
    the background stays joined to the border), and ring corners lie only on the edges of kept rows."""
    busy = mask.any(axis=1)  # numpy: ~40x cv2.reduce's REDUCE_MAX along rows
    near = busy.copy()
    near[1:] |= busy[:-1]
    near[:-1] |= busy[1:]
    rows = np.flatnonzero(near)
    return rows if len(rows) < TOL.busy_rows_share * len(near) else None


def _fit_budget(rings: list[Ring], pooled: np.ndarray, mask: np.ndarray, params: ContourParams, factor: int,
                progress: Progress = no_progress) -> _Fit:
    """The simplified outline within ``max_vertices`` on the working grid, the mask it holds and the
    closing radius it needed (``_closed_within_budget`` when no tolerance fits)."""
    try:
        return simplify_within_budget(rings, params, mask.shape[1], mask.shape[0], unit=factor, solid=mask), mask, 0.0
    except OverBudget as exc:
        return _closed_within_budget(pooled, mask, params, factor, exc, progress)


def _closed_within_budget(pooled: np.ndarray, kept: np.ndarray, params: ContourParams, factor: int,
                          first: OverBudget, progress: Progress = no_progress) -> _Fit:
    """When the outline cannot fit ``max_vertices`` at any tolerance (more islands than the budget has
    vertices for, or shapes whose outward simplification stops shrinking), close the working mask
    (``pooled``, before cleaning) with a disc of doubling radius, as a larger ``concave_factor`` would:
    islands merge and concavities fill (more wasted area, never less coverage) until the cleaned
    outline fits; then bisect between that radius and the last that did not. When no radius up to
    the mask's size fits, the outline is the box around every pixel of ``kept`` (``pooled`` cleaned,
    as the caller has it; radius inf) if the budget has its four vertices, else ``OverBudget`` with
    the fewest vertices any attempt needed. Returns the outline, the mask it holds and the radius
    (working pixels). Each attempt is a progress report between 50 and 70 (a cancellation point too:
    on a large sheet the attempts take seconds)."""
    fewest, attempts = first.needed, 0

    def attempt(radius: float) -> _Fit | None:
        nonlocal fewest, attempts
        attempts += 1
        progress(min(50 + 2 * attempts, 68), f"Closing the mask to fit max_vertices: radius {radius * factor:g} px...")
        closed, rings = _cleaned_rings(pooled | _closing(pooled, radius), params, factor)
        try:
            return simplify_within_budget(rings, params, closed.shape[1], closed.shape[0], unit=factor,
                                          solid=closed, steps=TOL.budget_closing_steps), closed, radius
        except OverBudget as exc:
            fewest = min(fewest, exc.needed)
            return None

    radius, low = TOL.budget_closing_start, 0.0
    while radius <= max(pooled.shape):
        if (fits := attempt(radius)) is not None:
            return _bisect_down(attempt, low, fits)
        low, radius = radius, radius * 2
    if params.max_vertices >= 4:  # the last resort: the box around every kept pixel
        return _box_fit(kept)
    raise OverBudget("no simplification or closing of the outline fits max_vertices", fewest,
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


def _box_fit(kept: np.ndarray) -> _Fit:
    """The box around every pixel of ``kept`` as a four-corner outline, its mask, radius inf."""
    box = _box_mask(kept)
    return trace_rings(box), box, math.inf


def _box_mask(mask: np.ndarray) -> np.ndarray:
    """The bounding box of the mask's pixels, filled (traced as one four-corner ring)."""
    x, y, w, h = cv2.boundingRect(_as_u8(mask))
    box = np.zeros_like(mask)
    box[y:y + h, x:x + w] = True
    return box


def _closing(mask: np.ndarray, radius: float) -> np.ndarray:
    """Morphological closing with a Euclidean disc of ``radius`` pixels, outside the image empty,
    from two distance transforms (cost independent of the radius, unlike a kernel)."""
    r = math.ceil(radius)
    padded = cv2.copyMakeBorder(_as_u8(mask), r, r, r, r, cv2.BORDER_CONSTANT, value=0)
    grown = cv2.distanceTransform(1 - padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= radius
    closed = cv2.distanceTransform(grown.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) > radius
    return closed[r:-r, r:-r]


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
        mask = labels_in(np.concatenate([[False], keep]), labels)
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
    out[y:y + h, x:x + w] |= labels_in(fill, labels)
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
    count, labels = cv2.connectedComponents(_as_u8(coarse), connectivity=8)  # box sizes by a kernel: ~2x faster
    size = np.maximum(label_sizes(labels, count) - 1, 0) * most  # pooling grows each box by about a cell
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
    pieces = unpack(drop_repeats_batch(points, owner, count)[0])
    return [Ring(p, r.is_hole, r.island) for p, r in zip(pieces, rings, strict=True)]


def _split_at_batch(points: np.ndarray, owner: np.ndarray, count: int, axis: int,
                    at: float) -> tuple[np.ndarray, np.ndarray]:
    """Every closed ring (points grouped by ring in ``owner``) with a point added where an edge
    crosses the line ``points[:, axis] == at`` (not within ``TOL.geom_eps`` of either end, where the
    end itself is on the line), all rings in one pass."""
    nxt = points[pack(points, owner, count).nxt]
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


def trace_rings(mask: np.ndarray, *, min_hole_area: float = 0.0, min_hole_share: float = 0.0,
                min_hole_width: float = 0.0) -> list[Ring]:
    """Outer rings then holes of the union of opaque pixel squares, on pixel corners; holes
    enclosing less than ``min_hole_area``, or than ``min_hole_share`` of the area their island's
    outer ring encloses, or narrower than ``min_hole_width`` (``_ring_widths``) while enclosing less
    than ``TOL.thin_hole_share`` of it, are left out. ``clean_mask`` fills holes of fewer
    transparent pixels, but a hole's ring runs on the corners of the opaque pixels around it, so it
    encloses less: a thin transparent crack of 10+ pixels traces to a 2 px^2 diamond, which cut
    into the mesh forces slivers all round it and holds no transparent pixel worth the cut. A hole
    small beside its island is much the same trade: a few pixels of wasted area saved, for a ring of
    hull vertices and the narrow triangles that grade from it to the island's long outline
    segments. A narrow hole (a slot between two legs) is the same trade at a larger share: its
    ring's pixel-long segments lie a pixel or two from each other and not far from the island's
    own outline."""
    padded = _corner_grid(mask)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        raise InputError("CONTOUR_NOT_FOUND", "no contour found in the mask")
    parents = hierarchy[0][:, 3]
    island_of = {int(i): n for n, i in enumerate(np.flatnonzero(parents < 0))}
    sizes = np.array([len(c) for c in contours])
    packed = pack(np.concatenate(contours).reshape(-1, 2).astype(float) - 1.0,
                  np.repeat(np.arange(len(contours)), sizes), len(contours))
    areas = ring_areas(packed)
    enclosed = np.abs(areas)
    island_area = enclosed[np.maximum(parents, 0)]
    least = np.maximum(min_hole_area, min_hole_share * island_area)  # what a hole must enclose
    thin = (_ring_widths(packed, enclosed) < min_hole_width) & (enclosed < TOL.thin_hole_share * island_area)
    left_out = (parents >= 0) & ((enclosed < least) | thin)
    areas = areas.tolist()
    pieces = unpack(packed)
    rings = []
    for i in [*island_of, *np.flatnonzero(parents >= 0).tolist()]:
        hole = bool(parents[i] >= 0)
        if sizes[i] >= 3 and areas[i] != 0 and not left_out[i]:
            points = pieces[i] if (areas[i] > 0) != hole else pieces[i][::-1].copy()  # solid on the left
            rings.append(Ring(points, hole, island_of[int(parents[i])] if hole else island_of[i]))
    return rings


def _ring_widths(packed: Packed, enclosed: np.ndarray) -> np.ndarray:
    """How wide each ring is across, on average: twice the area it encloses over its length (a
    long slot's width, half a square's side)."""
    step = packed.points[packed.nxt] - packed.points
    length = np.bincount(packed.ring, weights=np.hypot(step[:, 0], step[:, 1]), minlength=len(enclosed))
    return 2 * enclosed / np.maximum(length, TOL.geom_eps)


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


def _orient(points: np.ndarray, hole: bool) -> np.ndarray:
    """Orient so the solid is on the left: outer rings positive area, holes negative."""
    positive = signed_area(points) > 0
    return points if positive != hole else points[::-1].copy()


# ---------------------------------------------------------------- triangulation


def triangulate(outline: list[Ring], params: ContourParams) -> Mesh:
    """Constrained quality triangulation of the outline; boundary loops first, in ring order.

    Triangle's refinement runs at each rung of ``TOL.angle_ladder`` in turn and each island keeps the
    rung with the largest smallest angle there (a rung whose Steiner points make a triangle under
    ``min_triangle_area`` on an island is passed over there, not on the others: ``_ladder``); then
    ``contour_refine`` works on that mesh (``_refined``). With
    ``outline_steiner`` Triangle may split segments; where that falls short of 20 degrees (its
    split points would make triangles under ``min_triangle_area``, as on 16 px pixel art and 1 px
    lines) the outline is also meshed unsplit, and with the split points that leave no piece
    shorter than the side of an equilateral triangle of that area (``_with_split_points``), each
    by ``_refined``; each island is taken from the mesh with the larger smallest angle there
    (``_best_by_island``): a split outline allows every mesh of those outlines."""
    sizes = [len(r.points) for r in outline]
    pslg = outline_pslg(outline)
    if not params.outline_steiner:
        best = _refined(outline, pslg, params)[0]
        return _rings_first(best, sizes) or _hull_first(best["vertices"], best["triangles"])
    vertices, segments, holes = pslg
    area, budget = _max_area(outline, params), max(params.max_vertices - len(vertices), 0)
    split, split_angles = _by_island(_ladder(vertices, segments, holes, area, budget, params, True), len(vertices),
                                     segments, params.max_vertices)
    if float(split_angles.min()) >= TOL.min_angle_deg:
        return _hull_first(split["vertices"], split["triangles"])
    best, outline_island = _refined(outline, pslg, params)
    candidates = [(best, outline_island), (split, outline_island)]
    conforming = _run_triangle(vertices, segments, holes, TOL.min_angle_deg, area, budget, True, labelled=True)
    if (finer := _with_split_points(outline, conforming, params.min_triangle_area)) is not None:
        candidates.insert(1, _refined(finer, outline_pslg(finer), params))
    chosen = _best_by_island(candidates, params.max_vertices)
    if chosen is best:
        return _rings_first(best, sizes) or _hull_first(best["vertices"], best["triangles"])
    return _hull_first(chosen["vertices"], chosen["triangles"])


def _refined(outline: list[Ring], pslg: tuple[np.ndarray, np.ndarray, np.ndarray | None],
             params: ContourParams) -> tuple[dict, np.ndarray]:
    """The outline's mesh (``pslg``: its ``outline_pslg``) with its segments unsplit: the ladder's
    rungs taken island by island (``_ladder``), each island's best rung unless that leaves more than
    ``MAX_BAD`` triangles under 20 degrees there and another rung leaves no more than that: the first
    such rung is taken there instead (a lower rung often gains a few degrees at its worst triangle
    by leaving many more bad ones, which refinement then does not take on); then improved by
    ``contour_refine``. Also each outline vertex's island."""
    sizes = [len(r.points) for r in outline]
    vertices, segments, holes = pslg
    area, budget = _max_area(outline, params), max(params.max_vertices - len(vertices), 0)
    island = np.unique([r.island for r in outline], return_inverse=True)[1]
    outline_island = np.repeat(island, sizes)
    hole_island = island[[r.is_hole for r in outline]]
    ladder = _ladder(vertices, segments, holes, area, budget, params, False, (outline_island, hole_island))
    best, best_angles = _by_island(ladder, len(vertices), segments, params.max_vertices)
    if best is None:  # the islands' rungs together exceed max_vertices: one rung for all, on the same triangulation
        best, best_angles = _by_island(_ladder(vertices, segments, holes, area, budget, params, False, cdt=ladder.cdt),
                                       len(vertices), segments, params.max_vertices)
    return improve_islands(best, best_angles, len(vertices), segments, holes, params, area,
                           outline_island, hole_island), outline_island


def _with_split_points(outline: list[Ring], result: dict, min_area: float) -> list[Ring] | None:
    """The outline with the points a ``labelled`` Triangle ``result`` put on its segments, each kept
    where it leaves no piece shorter than the side of an equilateral triangle of ``min_area`` (a
    piece shorter than that has no room for a well-shaped triangle of that area); None when none is."""
    sizes = [len(r.points) for r in outline]
    vertices, count = result["vertices"], sum(sizes)
    pieces = result["segments"]
    owner = np.repeat(result["segment_markers"].ravel() - FIRST_MARKER, 2)  # the outline segment of each piece end
    on = pieces.ravel() >= count
    point, owner = np.unique(np.stack([pieces.ravel()[on], owner[on]], axis=1), axis=0).T
    if not len(point):
        return None
    start, end = np.concatenate([r.points for r in outline]), np.concatenate([roll_next(r.points) for r in outline])
    at = np.hypot(*(vertices[point] - start[owner]).T)
    order = np.lexsort((at, owner))
    kept = _spaced(owner[order], at[order], np.hypot(*(end - start).T), equilateral_side(min_area))
    if not kept.any():
        return None
    point, owner, at = point[order][kept], owner[order][kept], at[order][kept]
    every = np.concatenate([start, vertices[point]])  # each ring's corners and its kept points, in walk order
    place = np.lexsort((np.concatenate([np.zeros(count), at]), np.concatenate([np.arange(count), owner])))
    ring_of = np.repeat(np.arange(len(outline)), sizes)[np.concatenate([np.arange(count), owner])][place]
    bounds = np.cumsum(np.bincount(ring_of, minlength=len(outline)))[:-1]
    return [Ring(points, ring.is_hole, ring.island)
            for ring, points in zip(outline, np.split(every[place], bounds), strict=True)]


def _spaced(owner: np.ndarray, at: np.ndarray, length: np.ndarray, shortest: float) -> np.ndarray:
    """Which points to keep (each at distance ``at`` along outline segment ``owner``, sorted by
    segment then distance) so that no piece of a segment (``length`` long) is shorter than
    ``shortest``: along each segment, greedily, each point far enough from the one kept before
    and from the segment's end."""
    keep = np.zeros(len(at), dtype=bool)
    last, previous = 0.0, -1
    for i, (segment, distance) in enumerate(zip(owner.tolist(), at.tolist(), strict=True)):
        if segment != previous:
            last, previous = 0.0, segment
        if distance - last >= shortest and length[segment] - distance >= shortest:
            keep[i], last = True, distance
    return keep


def _best_by_island(candidates: list[tuple[dict, np.ndarray]], budget: int) -> dict:
    """One mesh taking each island from the candidate whose smallest angle there is largest,
    counted up to 20 degrees (on ties the first: fewer vertices); the best candidate whole when the
    pieces would exceed ``budget``. Candidates are meshes of one outline, each with the island of
    its first vertices (its outline's, which may hold split points)."""
    count = int(candidates[0][1].max()) + 1
    tri_islands, worst = [], []
    for mesh, outline_island in candidates:
        tris = mesh["triangles"]
        tri_islands.append(vertex_islands(tris, outline_island, len(mesh["vertices"]))[tris[:, 0]])
        angles = np.minimum(min_angles(mesh["vertices"], tris), TOL.min_angle_deg)
        minima = group_minima(tri_islands[-1], angles, count)
        worst.append(np.where(np.isfinite(minima), minima, -1.0))  # no triangles there: it cannot supply it
    source = np.argmax(np.stack(worst), axis=0)
    if (source == source[0]).all():
        return candidates[int(source[0])][0]
    offsets = np.cumsum([0] + [len(mesh["vertices"]) for mesh, _ in candidates])
    tris = np.concatenate([mesh["triangles"][source[tri_islands[k]] == k] + offsets[k]
                           for k, (mesh, _) in enumerate(candidates)])
    if len(np.unique(tris)) > budget:
        return candidates[int(np.argmax([w.min() for w in worst]))][0]
    return {"vertices": np.concatenate([mesh["vertices"] for mesh, _ in candidates]), "triangles": tris}


_Rung = tuple[dict, np.ndarray]  # a Triangle result and the smallest angle of each of its triangles


class _Ladder(NamedTuple):
    """The rungs ``_ladder`` ran, where each one's outline vertices are in the whole outline (None: it
    meshes the whole), the island of each of their triangles, and for each island the rung to take
    there (its index in ``rungs``), and the outline's triangulation every rung refined."""

    rungs: list[_Rung]
    at: list[np.ndarray | None]
    tri_islands: list[np.ndarray]
    choice: np.ndarray
    cdt: dict


def _ladder(vertices: np.ndarray, segments: np.ndarray, holes: np.ndarray | None, area: float | None,
            budget: int, params: ContourParams, split: bool,
            islands: tuple[np.ndarray, np.ndarray] | None = None, cdt: dict | None = None) -> _Ladder:
    """Triangle down ``TOL.angle_ladder`` (``_rungs``), island by island (``islands``: the island of
    each outline vertex and of each hole point; None: the mesh as one). Islands are meshed apart by
    their segments, so each can take its triangles from a different rung: a rung serves an island
    when its refinement respects ``min_triangle_area`` there (the unrefined rungs only where no
    refined rung serves, and under an area cap only where its points respect it too); each island
    takes the rung with the largest smallest angle there or, when that leaves more than ``MAX_BAD``
    triangles under 20 degrees there, the first that leaves at most that (unless ``split``). An
    island is settled when a rung meets its own target there, or (unsplit) when a rung that became
    its best leaves more than ``MAX_BAD`` bad triangles with the worst on the outline alone
    (``_outline_bound``); each rung meshes the islands not yet settled, and the ladder stops when
    every island is. A rung without triangles on an island cannot serve it
    (an island no rung meshes takes the last rung run: it has no triangles to take). ``cdt``: the
    outline's triangulation (``_Ladder.cdt`` of a ladder on the same outline), when already built."""
    count = 1 if islands is None else int(islands[0].max()) + 1
    rungs, ats, tri_islands = [], [], []
    best, fewest = np.full(count, -1), np.full(count, -1)
    best_angle, best_bad = np.full(count, -1.0), np.zeros(count, dtype=np.int64)
    settled = np.zeros(count, dtype=bool)
    if cdt is None:  # each rung refines it ('r')
        cdt = _run_triangle(vertices, segments, holes, 0.0, None, 0, split)
    for angle, cap in _rungs(area, split):
        if angle == 0 and ((best >= 0) | settled).all():  # unrefined never beats an accepted refined rung
            break
        if settled.any():  # the islands left, as a problem of their own
            sub = Islands(cdt, ~settled[islands[0]], len(vertices), segments, holes, ~settled[islands[1]])
            base, at, base_segments, base_holes = sub.result, sub.outline, sub.segments, sub.holes
        else:
            base, at, base_segments, base_holes = cdt, None, segments, holes
        result = _refine_triangle(base, angle, cap, budget, split)
        if angle == 0 and cap is not None and not split:  # the cap's points, less those under min_triangle_area
            result = capped_kept_valid(result, len(base["vertices"]), base_segments, base_holes, params)
        tris, k, fixed = result["triangles"], len(rungs), len(base["vertices"])
        tri_island = (np.zeros(len(tris), dtype=np.int64) if islands is None else
                      vertex_islands(tris, islands[0] if at is None else islands[0][at],
                                     len(result["vertices"]))[tris[:, 0]])
        angles = min_angles(result["vertices"], tris)
        rungs.append((result, angles))
        ats.append(at)
        tri_islands.append(tri_island)
        worst = group_minima(tri_island, angles, count)
        bad = np.bincount(tri_island[angles < TOL.min_angle_deg], minlength=count)
        serves = ~settled & np.isfinite(worst)
        if angle == 0:
            serves &= best < 0
        if angle > 0 or cap is not None:  # it has Steiner points: they must respect min_triangle_area
            serves &= _respects_area(result, tri_island, count, fixed, params.min_triangle_area)
        fewest[serves & (fewest < 0) & (bad <= MAX_BAD)] = k
        up = serves & (worst > best_angle + TOL.ladder_gain_deg)
        best[up], best_angle[up], best_bad[up] = k, worst[up], bad[up]
        settled |= serves & (worst >= angle)  # this rung met its own target: lower rungs cannot do better on purpose
        if not split:
            # the outline's own slivers decide the worst angle and refinement will not run: a lower rung
            # would cost a Triangle call for the same result
            settled |= up & _outline_bound(result, angles, tri_island, bad, count, fixed)
        if settled.all():
            break
    choice = np.where(best >= 0, best, len(rungs) - 1)
    if not split:
        choice = np.where((best_bad > MAX_BAD) & (fewest >= 0), fewest, choice)
    return _Ladder(rungs, ats, tri_islands, choice, cdt)


def _rungs(area: float | None, split: bool) -> list[tuple[float, float | None]]:
    """The ladder's rungs, (angle, area cap): ``TOL.angle_ladder`` under ``area``. The unrefined rung
    under a cap has the cap's points that make triangles under ``min_triangle_area`` dropped
    (``capped_kept_valid``). With ``split`` (split segments, which that does not handle) it serves only
    the islands where its points respect that, and one more rung, the outline's triangulation
    itself, serves the rest."""
    rungs = [(angle, area) for angle in TOL.angle_ladder]
    if area is not None and split:
        rungs.append((0.0, None))
    return rungs


def _respects_area(result: dict, tri_island: np.ndarray, count: int, fixed: int, min_area: float) -> np.ndarray:
    """``(count,) bool``: which islands of a Triangle result have no refined triangle (a vertex past the
    first ``fixed``) under ``min_area``."""
    if count == 1:
        return np.array([refined_check(result["vertices"], result["triangles"], fixed)[0] >= min_area])
    tris = result["triangles"]
    refined = (tris >= fixed).any(axis=1)
    return group_minima(tri_island[refined], triangle_areas(result["vertices"], tris[refined]), count) >= min_area


def _by_island(ladder: _Ladder, fixed: int, segments: np.ndarray, budget: int) -> _Rung | tuple[None, None]:
    """The mesh with each island's triangles from its chosen rung, and their angles; (None, None) when
    the pieces together exceed ``budget`` vertices."""
    choice = ladder.choice
    if (choice == choice[0]).all() and ladder.at[int(choice[0])] is None:
        return ladder.rungs[int(choice[0])]
    taken = [(k, choice[ladder.tri_islands[k]] == k) for k in np.unique(choice).tolist()]
    whole = np.arange(fixed)
    mesh = assembled(ladder.rungs[0][0]["vertices"][:fixed], segments,
                     [(ladder.rungs[k][0], whole if ladder.at[k] is None else ladder.at[k], take) for k, take in taken])
    if len(mesh["vertices"]) > budget:
        return None, None
    return mesh, np.concatenate([ladder.rungs[k][1][take] for k, take in taken])


def outline_pslg(outline: list[Ring]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The outline as Triangle's planar straight-line graph: its points (ring after ring), the
    segments closing each ring, and a point in each hole's empty region (None without holes)."""
    vertices = np.concatenate([r.points for r in outline])
    segments = _ring_segments([len(r.points) for r in outline])
    holes = _hole_points(vertices, segments, outline) if any(r.is_hole for r in outline) else None
    return vertices, segments, holes


def _outline_bound(result: dict, angles: np.ndarray, tri_island: np.ndarray, bad: np.ndarray, count: int,
                   fixed: int) -> np.ndarray:
    """``(count,) bool``: the islands where a lower rung is not worth its Triangle call after
    ``result`` missed its target there: their worst triangle has outline vertices only (a sliver
    Triangle left because splitting it would encroach an unsplittable segment; a lower rung leaves it
    too) and there are more than ``MAX_BAD`` triangles under 20 degrees there (``bad``: per island;
    more than ``improve_islands`` takes on one island). Measured over the sprite corpus with the
    whole mesh as one island, a lower rung never did better under both conditions (nor with
    ``MAX_BAD_TOTAL`` in place of ``MAX_BAD``); these are the large sheets, where each rung costs
    the most."""
    many = bad > MAX_BAD
    if not many.any():
        return many
    order = np.lexsort((angles, tri_island))  # each island's triangles, its worst first
    present, first = np.unique(tri_island[order], return_index=True)
    worst_tri = np.full(count, -1)
    worst_tri[present] = order[first]
    on_outline = np.zeros(count, dtype=bool)
    on_outline[present] = (result["triangles"][worst_tri[present]] < fixed).all(axis=1)
    return many & on_outline


def _rings_first(result: dict, sizes: list[int]) -> Mesh | None:
    """The mesh with the input rings as its loops, when Triangle kept them as they were: the
    input vertices first and in order (Triangle's numbering), no segment split, each used.
    None otherwise (split segments), for the general ``_hull_first``."""
    n = sum(sizes)
    tris = result["triangles"]
    if len(result["segments"]) != n or np.bincount(tris.ravel(), minlength=n)[:n].min() == 0:
        return None
    return Mesh(result["vertices"], tris, np.arange(n), list(sizes))


def _ring_segments(sizes: list[int]) -> np.ndarray:
    """``(n, 2) int`` edges closing each consecutive ring."""
    nxt = next_index(sizes)
    return np.stack([np.arange(len(nxt)), nxt], axis=1)


def _hole_points(vertices: np.ndarray, segments: np.ndarray, outline: list[Ring]) -> np.ndarray | None:
    """One point in the empty region each hole ring bounds, for Triangle's hole eating (the
    outside needs none: Triangle eats inward from the convex hull, and rings never touch).

    Rings have the solid on their left, so a hole's empty region is on the right of its walk: from
    the middle of the hole's longest segment a ray goes right, and the point halfway to the first
    outline segment it meets is inside that region (the hole ring itself closes it, so only the
    segments in the hole's bounding box can be met first; those are found among the segments of the
    rings whose bounding box meets it)."""
    sizes = np.array([len(r.points) for r in outline], dtype=np.int64)
    holes = np.flatnonzero([r.is_hole for r in outline])
    if not len(holes):
        return None
    points, found = hole_points(vertices[segments[:, 0]], vertices[segments[:, 1]], np.cumsum(sizes) - sizes, sizes,
                                holes, ring_boxes([r.points for r in outline]))
    if not found:  # cannot happen for closed, non-touching rings
        raise InputError("TRIANGULATION_FAILED", "a hole has no inside", {"holes": len(holes)})
    return points


def _max_area(outline: list[Ring], params: ContourParams) -> float | None:
    """Triangle's area constraint for interior vertices, or None when density is 0; never under
    ``TOL.cap_per_min_area`` times ``min_triangle_area``, since a cap makes triangles of a fraction of
    it (``capped_kept_valid`` drops the points of those under ``min_triangle_area``)."""
    if params.internal_vertex_density <= 0:
        return None
    return max(params.density_scaling_factor / params.internal_vertex_density,
               TOL.cap_per_min_area * params.min_triangle_area)


def _run_triangle(vertices: np.ndarray, segments: np.ndarray, holes: np.ndarray | None, angle: float,
                  area: float | None, budget: int, split_outline: bool = False, *, labelled: bool = False) -> dict:
    """One Triangle call: 'p' PSLG, 'YY' no Steiner points on segments (unless ``split_outline``),
    'S' Steiner budget; with ``labelled``, each output segment's ``segment_markers`` is the index of
    the input segment it is a piece of, plus ``FIRST_MARKER`` (Triangle sets 0 and 1 itself)."""
    opts = triangle_options(budget, angle, area, split_outline=split_outline)
    data = triangle_input(vertices, segments, holes)
    if labelled:
        data["segment_markers"] = np.arange(FIRST_MARKER, FIRST_MARKER + len(segments), dtype=np.int32)[:, None]
    return _triangulated(data, opts)


def _refine_triangle(cdt: dict, angle: float, area: float | None, budget: int, split_outline: bool = False) -> dict:
    """Triangle's refinement ('r') of a constrained Delaunay triangulation of the outline (its
    vertices, segments and triangles: holes already eaten), as ``_run_triangle`` with the same
    switches on the outline would refine it, without building the triangulation again; ``cdt``
    itself when nothing would refine it (no angle, no area)."""
    if angle <= 0 and area is None:
        return cdt
    data = {"vertices": cdt["vertices"], "segments": np.ascontiguousarray(cdt["segments"], dtype=np.int32),
            "triangles": np.ascontiguousarray(cdt["triangles"], dtype=np.int32)}
    return _triangulated(data, "r" + triangle_options(budget, angle, area, split_outline=split_outline))


def _triangulated(data: dict, opts: str) -> dict:
    """``triangle.triangulate(data, opts)``; ``TRIANGULATION_FAILED`` when it makes no triangles."""
    result = triangle.triangulate(data, opts)
    if "triangles" not in result or not len(result["triangles"]):
        raise InputError("TRIANGULATION_FAILED", "Triangle produced no triangles",
                         {"vertex_count": len(data["vertices"]), "options": opts})
    return result


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
    walked = np.array([v for loop in loops for v in loop], dtype=np.int64)
    return Mesh(vertices[order], remap[triangles], remap[walked], [len(loop) for loop in loops])


def mesh_edges(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """(boundary edges in loop order, other undirected edges ascending), ``(k, 2) int`` each.
    An edge of two triangles is internal; one of a single triangle is on a loop."""
    order = mesh.hull.astype(np.int64)
    boundary = np.stack([order, order[next_index(mesh.loop_sizes)]], axis=1)
    tris = mesh.triangles.astype(np.int64)
    n = max(len(mesh.vertices), 1)
    a, b = tris.ravel(), tris[:, [1, 2, 0]].ravel()
    keys = np.sort(np.minimum(a, b) * n + np.maximum(a, b))
    shared = keys[1:][keys[1:] == keys[:-1]]
    return boundary, np.stack([shared // n, shared % n], axis=1)
