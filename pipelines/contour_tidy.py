"""The outline tidied where it would force slivers (``tidy_outline``).

Outline segments are never split (no Steiner points on the outline), so the one triangle on a
short segment between long neighbours is a sliver however the inside is meshed. Most such segments
are not the sprite's shape: the outward offset's joins, the clip of the offset to the image, and
the map of a pooled outline back onto the image's pixels (``unpool_rings``) leave sub-pixel
segments and pixel-high steps beside long segments. They are tidied outward here, so the outline
still holds every pixel it held: merged into their neighbours anywhere (``_merged_short``, within
limits on the area added, the corner made and how far the outline moves, the last set by the
simplification tolerance, so ``detail_factor`` keeps its meaning), and, along the image's edge,
widened (``_widened``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pipelines.contour_geometry import inside_ring, recheck_crossing
from pipelines.contour_kernels import short_merges
from pipelines.contour_params import TOL
from pipelines.contour_rings import Packed, Ring, pack, pack_rings, ring_areas, ring_boxes, unpack


def tidy_outline(rings: list[Ring], width: int, height: int, tolerances: Sequence[float] | None = None) -> list[Ring]:
    """The outline with its short segments merged outward (``_merged_short``, ``TOL.merge_rounds``
    rounds, each ring adding at most ``TOL.merge_area`` of its island's solid area and moving at
    most ``TOL.merge_reach`` of its simplification tolerance, ``tolerances``, in pixels; None: no
    limit) and its short segments along the image's edge widened (``_widened``); both only add
    transparent area inside the image. A ring that would then touch or cross another ring, or
    itself, or enclose one, is kept as it was."""
    packed = pack_rings([r.points for r in rings])
    area = ring_areas(packed)  # per ring: > 0 on outer rings, < 0 on holes
    island = np.array([r.island for r in rings])
    solid = np.bincount(island, weights=area)[island]
    reach = np.full(len(rings), np.inf) if tolerances is None else TOL.merge_reach * np.asarray(tolerances, dtype=float)
    merged, kept = _merge_rounds(packed, TOL.merge_area * np.maximum(solid, 0.0), reach, width, height)
    points = merged.points
    on = _OnEdge(points, width, height)
    if len(on.point):
        points = _widened(merged, on, area if merged is packed else ring_areas(merged))  # areas after the merges
    changed = set(np.unique(merged.ring[(points != packed.points[kept]).any(axis=1)]).tolist()) | set(
        np.unique(packed.ring[~kept]).tolist())
    if not changed:
        return rings
    tidied = unpack(pack(points, merged.ring, len(rings)))
    candidates = [tidied[i] if i in changed else r.points for i, r in enumerate(rings)]
    while changed and (blamed := (recheck_crossing(candidates, changed) |
                                  _enclosing(candidates, rings, changed)) & changed):
        for i in blamed:  # both rings of a crossing are blamed: only those this tidying moved go back
            candidates[i] = rings[i].points
        changed -= blamed
    return [r if c is r.points else Ring(c, r.is_hole, r.island) for c, r in zip(candidates, rings, strict=True)]


def _merge_rounds(packed: Packed, room: np.ndarray, reach: np.ndarray, width: int,
                  height: int) -> tuple[Packed, np.ndarray]:
    """``_merged_short`` ``TOL.merge_rounds`` times (a merge can leave its new segment short beside a
    neighbour that was busy in the same round), and which of ``packed``'s points are kept."""
    kept = np.ones(len(packed.points), dtype=bool)
    for _ in range(TOL.merge_rounds):
        merged, kept_now, added = _merged_short(packed, room, reach, width, height)
        if merged is packed:
            break
        kept[np.flatnonzero(kept)[~kept_now]] = False
        packed, room = merged, room - added
    return packed, kept


def _merged_short(packed: Packed, room: np.ndarray, reach: np.ndarray, width: int,
                  height: int) -> tuple[Packed, np.ndarray, np.ndarray]:
    """``packed`` with its short segments merged outward, which of its points are kept and the area
    each ring gained. A segment B -> C under ``TOL.merge_short_ratio`` of both its neighbours
    A -> B and C -> D goes in the way that adds the least area (a triangle outside the solid):
    C dropped where the ring turns outward at C (B C D), B dropped where it turns outward at B
    (A B C), or, where it turns inward at both, B moved to X, where A -> B and D -> C extended meet,
    and C dropped (B X C), if X is inside the image and the corner there is at least
    ``TOL.merge_corner_deg``; a way that moves the outline (the dropped point from its chord, X
    from B -> C) farther than its ring's ``reach`` is not taken. Merges are taken smallest first
    while their ring's gain stays within its ``room``, none reading or moving a point another
    moves; rings keep at least 3 points."""
    p, nxt, prv, ring = packed.points, packed.nxt, packed.prv, packed.ring
    unchanged = packed, np.ones(len(p), dtype=bool), np.zeros(len(room))
    b, way, x, added = short_merges(p, nxt, prv, ring, np.diff(packed.starts), reach, float(width), float(height),
                                    TOL.merge_short_ratio, math.cos(math.radians(TOL.merge_corner_deg)))
    if not len(b):
        return unchanged
    a, c = prv[b], nxt[b]
    d = nxt[c]
    take = _taken(np.stack([a, b, c, d], axis=1), ring[b], added, room)
    if not take.any():
        return unchanged
    b, c, way, x, added = b[take], c[take], way[take], x[take], added[take]
    kept = np.ones(len(p), dtype=bool)
    kept[np.where(way == 1, b, c)] = False
    moved = p.copy()
    moved[b[way == 2]] = x[way == 2]
    merged = pack(moved[kept], ring[kept], len(room))
    return merged, kept, np.bincount(ring[b], weights=added, minlength=len(room))


def _taken(touched: np.ndarray, ring: np.ndarray, added: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Which merges to take, smallest first: each touching (``(k, 4)`` point indices) no point an
    earlier one took, and adding a finite area its ring's ``room`` still holds."""
    take = np.zeros(len(added), dtype=bool)
    busy: set[int] = set()
    left = room.tolist()
    finite = np.flatnonzero(np.isfinite(added))
    order = finite[np.argsort(added[finite], kind="stable")]
    for k, points, owner, gain in zip(order.tolist(), touched[order].tolist(), ring[order].tolist(),
                                      added[order].tolist(), strict=True):
        if gain <= left[owner] and busy.isdisjoint(points):
            take[k] = True
            busy.update(points)
            left[owner] -= gain
    return take


class _OnEdge:
    """Each (point, image edge) pair with the point on the edge (a corner point is on two): the
    point, the edge's axis (0: x is fixed), its value there and the extent of the other coordinate."""

    def __init__(self, points: np.ndarray, width: int, height: int) -> None:
        value = np.array([0.0, width, 0.0, height])
        axis = np.array([0, 0, 1, 1])
        hits = points[:, axis] == value  # (n, 4)
        self.point, edge = np.nonzero(hits)
        self.axis, self.value = axis[edge], value[edge]
        self.extent = np.where(self.axis == 0, float(height), float(width))


def _widened(packed: Packed, on: _OnEdge, area: np.ndarray) -> np.ndarray:
    """The points of ``packed`` (its rings' signed ``area``) with each short segment along the edge
    widened: a segment C -> D on the edge whose neighbours leave it (both corners convex: the ring is
    inside the image) and is shorter than ``TOL.border_widen_ratio`` of the shorter neighbour has
    its ends moved apart along the edge to that length (half each; an end at the image's corner
    stays and the other moves for both), adding at most ``TOL.border_widen_area`` of the ring's
    area."""
    p, nxt, prv = packed.points, packed.nxt, packed.prv
    moved = p.copy()
    at, axis, value, extent = on.point, on.axis, on.value, on.extent
    pick = ((p[nxt[at], axis] == value) & (p[prv[at], axis] != value) & (p[nxt[nxt[at]], axis] != value) &
            (area[packed.ring[at]] > 0))
    if not pick.any():
        return moved
    at, axis, value, extent = at[pick], axis[pick], value[pick], extent[pick]
    a, b, c, d = p[at], p[nxt[at]], p[prv[at]], p[nxt[nxt[at]]]
    length = np.linalg.norm(b - a, axis=1)
    goal = TOL.border_widen_ratio * np.minimum(np.linalg.norm(a - c, axis=1), np.linalg.norm(d - b, axis=1))
    need = np.where((length < goal) & (length > 0), goal - length, 0.0)
    rows, along = np.arange(len(at)), 1 - axis
    ahead = np.sign(b[rows, along] - a[rows, along])  # the segment's direction along the edge
    room_a = np.where(ahead > 0, a[rows, along], extent - a[rows, along])  # to the image's corner behind a
    room_b = np.where(ahead > 0, extent - b[rows, along], b[rows, along])  # and ahead of b
    grow_a = np.minimum(need / 2, room_a)
    grow_b = np.minimum(need - grow_a, room_b)
    grow_a = np.minimum(need - grow_b, room_a)  # an end at a corner leaves its share to the other
    added = 0.5 * (grow_a * np.abs(c[rows, axis] - value) + grow_b * np.abs(d[rows, axis] - value))  # two triangles
    room = TOL.border_widen_area * area[packed.ring[at]]
    scale = np.minimum(1.0, room / np.maximum(added, TOL.geom_eps))
    moved[at, along] = a[rows, along] - ahead * grow_a * scale
    moved[nxt[at], along] = b[rows, along] + ahead * grow_b * scale
    return moved


def _enclosing(rings: list[np.ndarray], before: list[Ring], changed: set[int]) -> set[int]:
    """The ``changed`` rings that hold another ring's first point they did not hold ``before`` (a whole
    ring inside the area they gained: no edge crosses, so ``recheck_crossing`` does not see it). Only
    the first points inside a changed ring's box are tested against it."""
    firsts = np.array([r[0] for r in rings])
    mine = sorted(changed)
    boxes = ring_boxes([rings[i] for i in mine])
    near = ((firsts[None, :, 0] >= boxes[:, None, 0]) & (firsts[None, :, 0] <= boxes[:, None, 2]) &
            (firsts[None, :, 1] >= boxes[:, None, 1]) & (firsts[None, :, 1] <= boxes[:, None, 3]))
    near[np.arange(len(mine)), mine] = False
    gained = set()
    for k in np.flatnonzero(near.any(axis=1)).tolist():
        i, points = mine[k], firsts[near[k]]
        if (inside_ring(rings[i], points) & ~inside_ring(before[i].points, points)).any():
            gained.add(i)
    return gained
