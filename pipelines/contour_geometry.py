"""Exact tests of sprite outlines on the pixel grid: which pixels a set of rings holds whole
(winding and edge rasters), which rings cut a solid pixel or leave one outside (``uncovering_faults``),
and which touch or cross (``crossing_faults``), each saying where (``Faults``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pipelines.contour_kernels import corner_pixels, crossing_edges, cutting_edges, winding_numbers
from pipelines.contour_params import TOL
from pipelines.contour_rings import Ring, expand_runs, ring_boxes, ring_edges, signed_area

GROUPED_SWEEP_PAIRS = 20_000  # past this many x-overlapping edge pairs the crossing sweep runs per ring group


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
    """``SolidIndex`` of a ``(h, w) bool`` solid (``contour_kernels.corner_pixels``: its probes)."""
    return SolidIndex(solid, corner_pixels(np.ascontiguousarray(solid)))


class Faults(NamedTuple):
    """Where the outline checks failed: each fault's ring and a segment of it to blame (an edge, or a
    pixel centre as a segment of length 0)."""

    ring: np.ndarray  # (k,) int
    a: np.ndarray     # (k, 2)
    b: np.ndarray     # (k, 2)


def _no_faults() -> Faults:
    return Faults(np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros((0, 2)))


def joined_faults(*faults: Faults) -> Faults:
    """All the faults, in one ``Faults``."""
    return Faults(*(np.concatenate(parts) for parts in zip(*faults, strict=True)))


def _uncovering_local(rings: list[np.ndarray], index: SolidIndex, changed: set[int] | None = None) -> set[int]:
    """``_uncovering_rings`` in time of the outline's length, not the image's (``uncovering_faults``)."""
    return set(uncovering_faults(rings, index, changed).ring.tolist())


def uncovering_faults(rings: list[np.ndarray], index: SolidIndex, changed: set[int] | None = None) -> Faults:
    """The rings that do not hold every solid pixel whole, and where: an edge through a solid pixel,
    or along a pixel border with solid on both sides, is to blame; when no edge enters the solid
    that way, each 4-connected part of it is wholly inside or wholly outside, so one probe pixel per
    part decides, and a probe outside blames (at its centre) every ring whose bounding box reaches
    it. ``changed``: only these rings' edges are tested for entering the solid (the others were,
    unchanged)."""
    if not rings:
        return _no_faults()
    a, b = ring_edges(rings)
    moved = list(range(len(rings))) if changed is None else sorted(changed)
    if moved:
        sizes = np.array([len(r) for r in rings], dtype=np.int64)
        moved_at = np.asarray(moved, dtype=np.int64)
        starts = np.cumsum(sizes) - sizes
        owner, edge = expand_runs(starts[moved_at], starts[moved_at] + sizes[moved_at])  # the moved rings' edges
        owner = moved_at[owner]
        ea, eb = (a, b) if changed is None else (a[edge], b[edge])
        cut = cutting_edges(ea, eb, index.solid)
        if len(cut):
            return Faults(owner[cut], ea[cut], eb[cut])
    width = index.solid.shape[1]
    probes = index.probes
    outside = probes[winding_at(a, b, probes + 0.5, width) <= 0]
    if not len(outside):
        return _no_faults()
    boxes = ring_boxes(rings)
    x, y = outside[:, :1], outside[:, 1:]
    probe, ring = np.nonzero((x + 1 >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y + 1 >= boxes[:, 1]) & (y <= boxes[:, 3]))
    centre = outside[probe] + 0.5
    return Faults(ring, centre, centre)


def winding_at(a: np.ndarray, b: np.ndarray, points: np.ndarray, width: int) -> np.ndarray:
    """``(k,) int`` winding number of the closed edges a-b at each point (x, y), with y at a pixel
    centre row: ``winding_grid`` read at those points only (``contour_kernels.winding_numbers``)."""
    return winding_numbers(a, b, np.asarray(points, dtype=float), int(width))


def _uncovering_rings(rings: list[np.ndarray], solid: np.ndarray) -> set[int]:
    """Rings to blame for solid pixels that the outline does not hold whole: the owners of edges
    through such a pixel, and for a pixel left outside, every ring whose bounding box reaches it.
    Whole-image raster reference for ``_uncovering_local`` (which the mesher uses)."""
    height, width = solid.shape
    if not rings:
        return set()
    cut_spans = _cut_spans(*ring_edges(rings), width, height)
    row, c0, c1, edge = cut_spans
    cut = _span_grid(row, c0, c1, width, height)
    wind = winding_grid(rings, width, height)
    fail = solid & ((wind <= 0) | cut)
    if not fail.any():
        return set()
    owner = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    prefix = np.zeros((height, width + 1), dtype=np.int32)
    prefix[:, 1:] = fail
    prefix = row_cumsum(prefix)
    hits = prefix[row, c1] - prefix[row, c0] > 0
    bad = set(owner[edge[hits]].tolist())
    ys, xs = np.nonzero(solid & (wind <= 0) & ~cut)
    if len(ys):
        boxes = ring_boxes(rings)
        for start in range(0, len(ys), 4096):
            y, x = ys[start:start + 4096, None], xs[start:start + 4096, None]
            near = (x + 1 >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y + 1 >= boxes[:, 1]) & (y <= boxes[:, 3])
            bad.update(np.flatnonzero(near.any(axis=0)).tolist())
    return bad


def winding_grid(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """``(height, width) int`` winding number of the closed rings at each pixel centre (solid-left
    rings count +1), by signed scanline crossings: O(crossings + pixels)."""
    a, b = ring_edges(rings)
    row, edge = row_spans(np.ceil(np.minimum(a[:, 1], b[:, 1]) - 0.5),
                          np.ceil(np.maximum(a[:, 1], b[:, 1]) - 0.5), height)
    ay, by = a[edge, 1], b[edge, 1]
    x = a[edge, 0] + (row + 0.5 - ay) / (by - ay) * (b[edge, 0] - a[edge, 0])
    col = np.ceil(x - 0.5).clip(0, width).astype(np.int64)
    at = row * (width + 1) + col
    down = by > ay
    size = height * (width + 1)
    diff = flat_counts(at[~down], size) - flat_counts(at[down], size)
    return row_cumsum(diff.reshape(height, width + 1))[:, :width]


def edge_pixels(rings: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """``(height, width) bool``: pixels whose open interior an edge of the closed rings passes
    through (edges along pixel borders touch none)."""
    row, c0, c1, _ = _cut_spans(*ring_edges(rings), width, height)
    return _span_grid(row, c0, c1, width, height)


def _cut_spans(a: np.ndarray, b: np.ndarray, width: int,
               height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, first col, end col, edge) of the pixel runs each edge a-b passes through, per row."""
    eps = TOL.geom_eps
    y0, y1 = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    row, edge = row_spans(np.floor(y0 + eps), np.ceil(y1 - eps), height)  # not rows grazed by float noise
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
    diff = flat_counts(row * (width + 1) + c0, size) - flat_counts(row * (width + 1) + c1, size)
    return row_cumsum(diff.reshape(height, width + 1))[:, :width] > 0


def flat_counts(index: np.ndarray, size: int) -> np.ndarray:
    """``(size,) int`` occurrences of each flat index (``np.add.at`` of ones, much faster)."""
    return np.bincount(index, minlength=size)


def row_cumsum(grid: np.ndarray) -> np.ndarray:
    """Cumulative sum along each row of a C-contiguous 2D integer array, in place: one flat
    cumsum (much faster than ``cumsum(axis=1)``) minus each row's carried-in total."""
    flat = grid.reshape(-1)
    np.cumsum(flat, out=flat)
    if len(grid) > 1:
        carry = grid[:-1, -1].copy()
        grid[1:] -= carry[:, None]
    return grid


def row_spans(first: np.ndarray, last: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, edge) for every row in [first, last) of each edge, clipped to [0, height)."""
    first = first.clip(0, height).astype(np.int64)
    counts = np.maximum(last.clip(0, height).astype(np.int64) - first, 0)
    edge = np.repeat(np.arange(len(first)), counts)
    row = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + first[edge]
    return row, edge


def _box_groups(boxes: np.ndarray) -> np.ndarray:
    """``(r,) int`` group of each box (x0, y0, x1, y1): connected components of box overlap
    (closed boxes, as the crossing sweep compares them), by a sweep over x."""
    from pipelines.graph_components import components  # scipy.sparse: imported only for sheets

    return components(len(boxes), *_overlapping_boxes(boxes))


def _overlapping_boxes(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of the boxes (x0, y0, x1, y1) that overlap (closed), each pair once, by a
    sweep over x: only the boxes starting within a box's x span are compared with it."""
    count = len(boxes)
    order = np.argsort(boxes[:, 0], kind="stable")
    sorted_boxes = boxes[order]
    counts = np.maximum(np.searchsorted(sorted_boxes[:, 0], sorted_boxes[:, 2], side="right") -
                        np.arange(count) - 1, 0)
    i, j = expand_runs(np.arange(count) + 1, np.arange(count) + 1 + counts)
    near = (sorted_boxes[j, 1] <= sorted_boxes[i, 3]) & (sorted_boxes[i, 1] <= sorted_boxes[j, 3])
    return order[i[near]], order[j[near]]


def _crossing_rings(rings: list[np.ndarray]) -> set[int]:
    """Indices of rings whose edges touch or cross another ring's, or their own non-adjacent ones."""
    return set(crossing_faults(rings).ring.tolist())


def crossing_faults(rings: list[np.ndarray]) -> Faults:
    """The edges that touch or cross another ring's, or a non-adjacent one of their own ring, with
    their rings (in the order of the rings' concatenated edges).

    A sweep over x (``contour_kernels.crossing_edges``): only edge pairs whose widened boxes overlap
    are tested. With many rings (sheets) the sweep runs per group of rings whose boxes overlap
    (``_box_groups``): the x keys of each group are shifted past the previous group's, so a column
    of separate sprites is not one long sweep (fantasy UI sheet: 76k edge pairs -> a few thousand;
    same answer, as edges of rings whose widened boxes do not meet cannot touch)."""
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    a, b = ring_edges(rings)
    owner = np.repeat(np.arange(len(rings)), sizes)
    local = np.arange(len(a)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    eps = TOL.geom_eps
    x_lo, x_hi = np.minimum(a[:, 0], b[:, 0]) - eps, np.maximum(a[:, 0], b[:, 0]) + eps
    order = np.argsort(x_lo, kind="stable")
    pairs = np.searchsorted(x_lo[order], x_hi[order], side="right") - np.arange(len(a)) - 1  # per edge
    if int(pairs.sum()) > GROUPED_SWEEP_PAIRS:
        group = _box_groups(ring_boxes(rings))[owner]
        base = float(x_lo.min())
        stride = float(x_hi.max()) - base + 1.0
        x_lo = group * stride + (x_lo - base)  # rounding is monotonic: no overlap in a group is lost
        x_hi = group * stride + (x_hi - base)
    hit = crossing_edges(a, b, owner, local, sizes, x_lo, x_hi)
    return Faults(owner[hit], a[hit], b[hit])


def recheck_crossing(rings: list[np.ndarray], changed: set[int]) -> set[int]:
    """``_crossing_rings`` after the ``changed`` rings were replaced, when no other ring crossed
    before (``recheck_crossing_faults``)."""
    return set(recheck_crossing_faults(rings, changed).ring.tolist())


def recheck_crossing_faults(rings: list[np.ndarray], changed: set[int]) -> Faults:
    """The edges that touch or cross another after the ``changed`` rings were replaced, when no other
    ring crossed before: only the rings whose bounding boxes meet a changed ring's can cross now."""
    boxes = ring_boxes(rings)
    moved = boxes[sorted(changed)]
    near = np.flatnonzero(((boxes[:, None, 0] <= moved[None, :, 2]) & (boxes[:, None, 2] >= moved[None, :, 0]) &
                           (boxes[:, None, 1] <= moved[None, :, 3]) & (boxes[:, None, 3] >= moved[None, :, 1])).any(1))
    found = crossing_faults([rings[i] for i in near])
    return found._replace(ring=near[found.ring])


def inside_ring(ring: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(k,) bool``: which points are inside ``ring`` (even-odd crossings of a ray to +x; a point on
    the ring may fall either way)."""
    a, b = ring, np.roll(ring, -1, axis=0)
    y, x = points[:, None, 1], points[:, None, 0]
    spans = (a[None, :, 1] > y) != (b[None, :, 1] > y)
    at = a[None, :, 0] + (y - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / np.where(
        b[None, :, 1] != a[None, :, 1], b[None, :, 1] - a[None, :, 1], 1.0)
    return (spans & (at > x)).sum(axis=1) % 2 == 1


PROBE_PX = 1e-3  # how far inside its first segment an island is probed


def swallowed_islands(rings: list[Ring]) -> set[int]:
    """The islands whose outer ring lies in another island's solid (inside its outer ring, not in a
    hole of it). An outline simplified, clipped or tidied outward across a notch can close round a
    whole small island, and filling a small hole leaves the island in it inside its surrounding
    island; no edge crosses, so the crossing checks do not see either. Those pixels are inside the
    other island's mesh already, and meshed again the ring would run through its triangles. Rings do
    not cross, so one point decides: a point just inside each island's first segment (outer rings
    have the solid on the left), tested against the islands whose box holds it."""
    outer = [r for r in rings if not r.is_hole]
    if len(outer) < 2:
        return set()
    ends = np.array([r.points[:2] for r in outer])  # (m, 2, 2): each outer ring's first segment
    step = ends[:, 1] - ends[:, 0]
    inward = np.column_stack([-step[:, 1], step[:, 0]]) / np.maximum(np.hypot(*step.T), 1e-12)[:, None]
    probes = ends.mean(axis=1) + PROBE_PX * inward
    boxes = ring_boxes([r.points for r in outer])
    i, j = _overlapping_boxes(boxes)
    ij, ji = _box_within(boxes, i, j), _box_within(boxes, j, i)
    inner, holder = np.concatenate([i[ij], j[ji]]), np.concatenate([j[ij], i[ji]])  # inner's box in holder's
    if not len(inner):
        return set()
    of_island: dict[int, list[np.ndarray]] = {}
    for r in rings:
        of_island.setdefault(r.island, []).append(r.points)
    gone = set()
    for a in np.unique(holder).tolist():
        mine = inner[holder == a]
        odd = sum(inside_ring(points, probes[mine]).astype(np.int64) for points in of_island[outer[a].island]) % 2
        gone.update(outer[b].island for b in mine[odd == 1].tolist())
    return gone


def _box_within(boxes: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Whether each box ``inner[k]`` lies within box ``outer[k]`` (closed)."""
    return ((boxes[inner, :2] >= boxes[outer, :2]) & (boxes[inner, 2:] <= boxes[outer, 2:])).all(axis=1)
