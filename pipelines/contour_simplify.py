"""Outward simplification of traced sprite rings: Douglas-Peucker, then each kept edge pushed
away from the solid past every point it replaced, so the outline holds every opaque pixel;
checked exactly (``pipelines.contour_geometry``) and refined near the faults only, within
the vertex budget."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from pipelines.contour_geometry import (
    Faults,
    SolidIndex,
    crossing_faults,
    joined_faults,
    recheck_crossing_faults,
    solid_index,
    solid_pixels,
    uncovering_faults,
)
from pipelines.contour_kernels import dp_anchors, near_segments, offset_rings
from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_rings import (
    Ring,
    pack_rings,
    ring_areas,
)
from pipelines.errors import InputError


class OverBudget(InputError):
    """The outline does not fit ``max_vertices`` (code ``TRIANGULATION_FAILED``); ``needed`` is the
    fewest vertices it would take, as far as the attempt found."""

    def __init__(self, message: str, needed: int, details: dict[str, Any]) -> None:
        super().__init__("TRIANGULATION_FAILED", message, details)
        self.needed = needed


def simplify_within_budget(rings: list[Ring], params: ContourParams, width: int, height: int, *,
                           unit: float = 1.0, solid: np.ndarray | None = None,
                           steps: int = TOL.budget_retries) -> list[Ring]:
    """Simplify every ring, growing the tolerance (``steps`` scales at most) until the outline fits
    ``max_vertices``; ``OverBudget`` when none does.
    ``unit``: image pixels per pixel of the rings' grid (tolerances are set in image pixels);
    ``solid``: the pixels to hold (default ``solid_pixels`` of the rings; the mask they were
    traced from is a subset, and all that must be held)."""
    if 3 * len(rings) > params.max_vertices:
        raise OverBudget("more outlines than max_vertices allows", 3 * len(rings),
                         {"rings": len(rings), "minimum_required": 3 * len(rings),
                          "max_vertices": params.max_vertices})
    index = solid_index(solid if solid is not None else solid_pixels([r.points for r in rings], width, height))
    anchors = _AnchorCount(rings, params, unit)
    step = 0
    traced = sum(len(r.points) for r in rings)  # anchors never outnumber the traced points: often no count needed
    if TOL.anchor_share * traced > params.max_vertices and TOL.anchor_share * anchors(0) > params.max_vertices:
        # step 0 cannot fit: do not simplify at it
        step = _first_feasible_step(anchors, params.max_vertices, steps)
        if TOL.anchor_share * (needed := anchors(step)) > params.max_vertices:
            raise OverBudget("outline needs more vertices than max_vertices", needed,
                             {"vertex_count": needed, "max_vertices": params.max_vertices, "rings": len(rings)})
    while step < steps:
        outline = simplify_rings(rings, params, width, height, TOL.budget_growth ** step, solid=index, unit=unit)
        count = sum(len(r.points) for r in outline)
        if count <= params.max_vertices:
            return outline
        # skip the steps whose Douglas-Peucker anchors alone exceed the budget
        step = _first_feasible_step(anchors, params.max_vertices, steps) if step == 0 else step + 1
    raise OverBudget("outline needs more vertices than max_vertices", count,
                     {"vertex_count": count, "max_vertices": params.max_vertices, "rings": len(outline)})


class _AnchorCount:
    """How many Douglas-Peucker anchors all rings keep at a budget step (tolerance scale
    ``TOL.budget_growth ** step``; rings of ``TOL.min_ring_points`` or fewer count whole): cheap
    (no offsets or checks), so steps are ruled out before simplifying for real. The outward offset
    keeps a point per anchor, but tidying may drop some: over the corpus the simplified count was
    never under 0.64 of the anchors (``TOL.anchor_share``: a step whose anchors exceed the budget
    by more than that cannot fit)."""

    def __init__(self, rings: list[Ring], params: ContourParams, unit: float = 1.0) -> None:
        self.rings, self.params, self.unit = rings, params, unit
        self.counts: dict[int, int] = {}

    @cached_property
    def _inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All rings as Douglas-Peucker takes them (float32, ring offsets), their tolerances at step 0
        and each ring's count when it counts whole, else 0 (made on the first count only: often none
        is needed)."""
        sizes = np.array([len(r.points) for r in self.rings], dtype=np.int64)
        points = np.concatenate([r.points for r in self.rings]).astype(np.float32)
        tols = np.asarray(ring_tolerances(self.rings, self.params, 1.0, self.unit), dtype=float)
        return points, np.concatenate([[0], np.cumsum(sizes)]), tols, np.where(sizes <= TOL.min_ring_points, sizes, 0)

    def __call__(self, step: int) -> int:
        if step not in self.counts:
            points, offsets, tols, whole = self._inputs
            counts = dp_anchors(points, offsets, tols * TOL.budget_growth ** step)[1]
            self.counts[step] = int(np.where(whole > 0, whole, counts).sum())
        return self.counts[step]


def _first_feasible_step(anchors: _AnchorCount, budget: int, steps: int = TOL.budget_retries) -> int:
    """Smallest budget step ``k >= 1`` that may fit ``budget``, by bisection (the last step when none
    may): the first whose anchors, less what tidying may drop (``TOL.anchor_share``), fit; the same
    test that rules out step 0, so no step tidying could bring within the budget is skipped."""
    lo, hi = 1, max(steps - 1, 1)
    if TOL.anchor_share * anchors(hi) > budget:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if TOL.anchor_share * anchors(mid) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return lo


def ring_tolerances(rings: list[Ring], params: ContourParams, scale: float, unit: float = 1.0) -> list[float]:
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
    ``uncovering_faults``) and no ring may touch or cross another ring or itself. Where a ring is to
    blame, only its traced points near the faults are simplified again, at half their tolerance
    (``_Refinement``; each round's retries in one batch): the rest of the ring keeps its
    simplification (a notch between two legs no longer doubles the vertices of the whole figure).
    After ``TOL.crossing_retries`` rounds a ring still to blame is kept as traced (always valid)."""
    if solid is None:
        solid = solid_pixels([r.points for r in rings], width, height)
    index = solid if isinstance(solid, SolidIndex) else solid_index(solid)
    tols = ring_tolerances(rings, params, scale, unit)
    holes = (ring_areas(pack_rings([r.points for r in rings])) < 0).tolist()  # once, not per retry round
    points = simplify_ring_batch([r.points for r in rings], tols, width, height, holes=holes)
    traced = [p is r.points for p, r in zip(points, rings, strict=True)]
    refinement = _Refinement([r.points for r in rings], tols, holes)
    attempt = 0
    faults = joined_faults(uncovering_faults(points, index), crossing_faults(points))
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
        faults = joined_faults(uncovering_faults(points, index, changed=set(bad)),
                               recheck_crossing_faults(points, set(bad)))
    return [Ring(p, r.is_hole, r.island) for p, r in zip(points, rings, strict=True)]


class _Refinement:
    """Rings simplified with a tolerance per traced point: ``tol / 2 ** depth``, each point's depth
    raised near the faults blamed on its ring (``deepen``); the Douglas-Peucker anchors of each
    ring and level are computed once (``anchors``)."""

    def __init__(self, rings: list[np.ndarray], tols: Sequence[float], holes: Sequence[bool]) -> None:
        self.rings, self.tols, self.holes = rings, list(tols), list(holes)
        self.depth: dict[int, np.ndarray] = {}
        self._dp: dict[tuple[int, int], np.ndarray] = {}

    def deepen(self, ids: list[int], faults: Faults) -> None:
        """One more halving for the points of rings ``ids`` within reach of a segment blamed on their
        ring (an edge lies within about twice its tolerance of the points it was offset from; a miter
        reaches further: ``TOL.fault_reach``), or for all of a ring's points when none is that near
        (a ring blamed for a pixel its box holds) or the faults are too many to place."""
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
        if near is None:  # too many faults over too much outline to place: everywhere, as when none is near
            near = np.zeros(len(points), dtype=bool)
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
        found, counts = _dp_indices_batch([self.rings[i] for i, _ in keys],
                                          [self.tols[i] / 2.0 ** level for i, level in keys], offsets)
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
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
            # each anchor's own tolerance for its joins and tidying: away from the faults the
            # candidate is the first one, point for point, and near them tidying does not undo
            # the finer anchors
            tols = np.array([self.tols[i] for i in active])
            point_tols = np.concatenate([self.tols[i] / 2.0 ** self.depth[i] for i in active])
            found, areas = _offset_simplify_batch([self.rings[i] for i in active], tols, width, height, kept=kept,
                                                  point_tols=point_tols)
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
                       a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """``(n,) bool``: whether each point lies within its ``reach`` of a segment a-b of its own ``slot``.
    Only the (point, segment) pairs whose x ranges meet within the largest reach are measured: one
    sort of the points by (slot, x), a range of it per segment (``contour_kernels.near_segments``).
    None when there are more than ``TOL.fault_pairs`` such pairs (a sheet closed into one ring that
    spans the image, faulted all over: measuring would cost more than refining everywhere)."""
    if not len(a):
        return np.zeros(len(points), dtype=bool)
    widest = float(reach.max())
    base = float(points[:, 0].min())
    stride = float(points[:, 0].max()) - base + 2 * widest + 1.0  # no slot's range reaches the next
    key = slot * stride + (points[:, 0] - base)
    order = np.argsort(key, kind="stable")
    key = key[order]
    lo = fault_slot * stride + (np.minimum(a[:, 0], b[:, 0]) - widest - base)
    hi = fault_slot * stride + (np.maximum(a[:, 0], b[:, 0]) + widest - base)
    first, last = np.searchsorted(key, lo, side="left"), np.searchsorted(key, hi, side="right")
    if int((last - first).sum()) > TOL.fault_pairs:
        return None
    return near_segments(points, reach, order, first, last, a, b)


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
        hole = dict(zip(active, (ring_areas(pack_rings([rings[i] for i in active])) < 0).tolist(), strict=True))
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


def _offset_simplify_batch(rings: list[np.ndarray], tols: np.ndarray, width: int, height: int, *,
                           kept: np.ndarray | None = None,
                           point_tols: np.ndarray | None = None) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Douglas-Peucker on each ring (or the anchors ``kept``: sorted indices into the concatenated
    rings), then push each kept edge outward past every point it replaced, clip to the image and
    tidy (``contour_kernels.offset_rings``). The joins and the tidying use each ring's tolerance, or
    each anchor's own in ``point_tols`` (one per point of the concatenated rings). Returns each
    ring's candidate (None when fewer than 3 points remain or an edge is degenerate) and its signed
    area."""
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    if kept is None:
        kept = _dp_indices_batch(rings, tols, offsets)[0]
    if point_tols is None:
        kept_tol = np.asarray(tols, dtype=float)[np.searchsorted(offsets, kept, side="right") - 1]
    else:
        kept_tol = point_tols[kept]
    points, counts, alive, areas = offset_rings(np.concatenate(rings).astype(float, copy=False), offsets, kept,
                                                kept_tol, float(width), float(height))
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    return [points[lo:hi] if ok else None
            for lo, hi, ok in zip(bounds[:-1], bounds[1:], alive.tolist(), strict=True)], areas


def _dp_indices_batch(rings: list[np.ndarray], tols: np.ndarray,
                      offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices into the concatenated rings of the points Douglas-Peucker keeps on each closed
    ring with its tolerance, as ``cv2.approxPolyDP`` keeps them, and how many each ring keeps
    (``contour_kernels.dp_anchors``: the same steps and arithmetic, all rings in one call, indices
    rather than points)."""
    return dp_anchors(np.concatenate(rings).astype(np.float32), offsets, np.asarray(tols, dtype=float))
