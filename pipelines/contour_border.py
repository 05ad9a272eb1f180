"""The outline where it meets the image's border (``tidy_border``).

The outward offset of a shape that reaches the image's edge passes the image, and clipping it to
the image, or mapping a pooled outline back onto the image's last pixels (``unpool_rings``), leaves
short segments there that are not the sprite's shape: a sub-pixel segment on the edge between
long neighbours, or a pixel-high step onto the edge beside a long segment along it. Outline
segments are never split (no Steiner points on the outline), so the one triangle on each short
segment is a sliver however the inside is meshed; these two are tidied outward here, on outer
rings only (holes never reach the edge), within the image.
"""

from __future__ import annotations

import numpy as np

from pipelines.contour_geometry import inside_ring, recheck_crossing
from pipelines.contour_params import TOL
from pipelines.contour_rings import Packed, Ring, pack, pack_rings, ring_areas, unpack


def tidy_border(rings: list[Ring], width: int, height: int) -> list[Ring]:
    """The outline with its steps onto the image's edge merged (``_merged_steps``) and its short
    segments along the edge widened (``_widened``); both only add transparent area inside the image.
    A ring that would then touch or cross another ring, or itself, or enclose one, is kept as it was."""
    packed = pack_rings([r.points for r in rings])
    on = _OnEdge(packed.points, width, height)
    if not len(on.point):
        return rings
    area = ring_areas(packed)  # per ring: > 0 on outer rings
    merged, kept = _merged_steps(packed, on, area)
    if not kept.all():  # a merged step's point is on the edge now, and its ring's area grew
        on, area = _OnEdge(merged.points, width, height), ring_areas(merged)
    points = _widened(merged, on, area)
    changed = set(np.unique(merged.ring[(points != packed.points[kept]).any(axis=1)]).tolist()) | set(
        np.unique(packed.ring[~kept]).tolist())
    if not changed:
        return rings
    tidied = unpack(pack(points, merged.ring, len(rings)))
    changed = {i for i in changed if len(tidied[i]) >= 3}  # (merges keep 3: a triangle has no outward turn)
    candidates = [tidied[i] if i in changed else r.points for i, r in enumerate(rings)]
    while changed and (blamed := (recheck_crossing(candidates, changed) |
                                  _enclosing(candidates, rings, changed)) & changed):
        for i in blamed:  # both rings of a crossing are blamed: only those this tidying moved go back
            candidates[i] = rings[i].points
        changed -= blamed
    return [r if c is r.points else Ring(c, r.is_hole, r.island) for c, r in zip(candidates, rings, strict=True)]


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


def _merged_steps(packed: Packed, on: _OnEdge, area: np.ndarray) -> tuple[Packed, np.ndarray]:
    """``packed`` (its rings' signed ``area``) with each short step onto the edge merged, and which
    of its points are kept: where segment B -> C ends on the edge, C -> D runs along it and B -> C
    is under ``TOL.tidy_short_ratio`` of both A -> B and C -> D, A -> B is extended to the edge at X.
    When X lies beyond C (not towards D), B becomes X and C goes: the triangle B X C, outside the
    ring, is added. Otherwise, when the ring turns outward at B, B goes: the triangle A B C is
    added. Either triangle may be at most ``TOL.border_widen_area`` of the ring's area. Either walk
    direction; a merge whose B or C another merge reads, or whose A another changes, is left out."""
    p, nxt, prv = packed.points, packed.nxt, packed.prv
    at = on.point
    c = np.concatenate([at, at])  # both walk directions at once: D ahead of C, B and A behind it
    d, b, a = (np.concatenate([nxt[at], prv[at]]), np.concatenate([prv[at], nxt[at]]),
               np.concatenate([prv[prv[at]], nxt[nxt[at]]]))
    axis, value, extent = np.tile(on.axis, 2), np.tile(on.value, 2), np.tile(on.extent, 2)
    walk = np.repeat([1.0, -1.0], len(at))  # A -> B -> C along the ring's walk, or against it
    pick = (p[d, axis] == value) & (p[b, axis] != value) & (area[packed.ring[c]] > 0)
    c, d, b, a, walk = c[pick], d[pick], b[pick], a[pick], walk[pick]
    axis, value, extent = axis[pick], value[pick], extent[pick]
    rows, along = np.arange(len(c)), 1 - axis
    short = np.linalg.norm(p[c] - p[b], axis=1) < TOL.tidy_short_ratio * np.minimum(
        np.linalg.norm(p[b] - p[a], axis=1), np.linalg.norm(p[d] - p[c], axis=1))
    rise = p[b, axis] - p[a, axis]
    t = (value - p[a, axis]) / np.where(rise != 0, rise, 1.0)  # X = A + t (B - A) on the edge
    x = p[a] + t[:, None] * (p[b] - p[a])
    x[rows, axis] = value
    beyond = (x[rows, along] - p[c, along]) * (p[d, along] - p[c, along]) <= 0
    room = TOL.border_widen_area * area[packed.ring[c]]
    reach = 0.5 * np.abs(_cross(x - p[b], p[c] - p[b]))  # triangle B X C: long when A -> B runs near the edge
    extend = (short & (rise != 0) & (t >= 1) & beyond & (x[rows, along] >= 0) & (x[rows, along] <= extent) &
              (reach <= room))
    gained = 0.5 * walk * _cross(p[b] - p[a], p[c] - p[b])  # < 0: the ring turns outward at B: A B C is outside
    cut = short & ~extend & (gained < 0) & (-gained <= room)
    kept = np.ones(len(p), dtype=bool)
    if not (extend | cut).any():
        return packed, kept
    take = extend | cut
    a, b, c, x, extend = a[take], b[take], c[take], x[take], extend[take]
    used = np.bincount(np.concatenate([a, b, c]), minlength=len(p))
    changes = np.bincount(np.concatenate([b, c]), minlength=len(p))
    alone = (used[b] == 1) & (used[c] == 1) & (changes[a] == 0)  # A may be read by two, not changed by one
    merged = p.copy()
    merged[b[alone & extend]] = x[alone & extend]
    kept[c[alone & extend]] = False
    kept[b[alone & ~extend]] = False
    return pack(merged[kept], packed.ring[kept], len(packed.starts) - 1), kept


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(k,)`` z of the cross product of rows of ``u`` and ``v``: > 0 where v turns left of u."""
    return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]


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
    ring inside the area they gained: no edge crosses, so ``recheck_crossing`` does not see it)."""
    firsts = np.array([r[0] for r in rings])
    others = np.ones(len(rings), dtype=bool)
    gained = set()
    for i in changed:
        others[i] = False
        if (inside_ring(rings[i], firsts) & ~inside_ring(before[i].points, firsts) & others).any():
            gained.add(i)
        others[i] = True
    return gained
