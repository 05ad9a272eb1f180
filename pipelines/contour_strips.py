"""The strips condition of ``contour_metrics.forced_min_angle``: two unsplit outline segments
without a common vertex, each with its one triangle, and the triangles past those triangles' free
sides, all apart.

Segment S1 = A1B1 is an edge of exactly one triangle T1 = A1B1P1 (angles alpha1 at A1, beta1 at
B1, all >= t); S2 likewise. T1 and T2 are different triangles, so they do not overlap. Past T1's
side A1P1 (not an outline segment unless P1 is the vertex before A1) lies one triangle D with
angles >= t at A1 and P1, so D holds the isosceles triangle with base angles t on A1P1 (its
*core*); likewise past P1B1, P2A2 and B2P2. Unless the apexes coincide or one is an end of the
other segment (or the vertex next to its own segment), those four triangles, T1 and T2 are six
different triangles (two of them are the same triangle only if they share two vertices), so the
regions they hold may not overlap. With a shared apex P1 = P2 the triangles past T1 may be the
ones past T2 (A1PB2 is both), and only T1, T2 and each one against the other's cores are tested.

The pairs condition keeps only the two segments' own cores apart. On a tapered strip those can
meet corner to side, which no triangulation allows (the corner would sit on the side: a T
junction, or a gap that triangles past the sides must fill); the apexes must then meet, and that
is what the best meshes do: on the strips of the spear, the rod and the UI box the mesher reaches
to 0.001 degree the best shared apex, under a pairs bound 0.14 to 0.26 degrees higher.

A t is shown impossible for a pair by cells of (alpha1, beta1) x (alpha2, beta2), halved while
they may hold the two triangles; a pair of cells is dropped only when some region pair provably
overlaps for every apex in them: T1 holds the triangle with the cell's smallest angles, and a
point is in the core past A1P1 for every P1 of a cell when its angle at A1 lies between the
cell's largest alpha and its smallest alpha + t, and the cell's apexes all see A1 and the point
under an angle below t (they miss the disk where that chord subtends t).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from pipelines.contour_rings import cross2

STRIP_GRID = 8         # first angle cells per end and segment
STRIP_DEPTH = 16       # halvings of a cell pair that may still hold the triangles,
STRIP_CELLS = 512      # and open cell pairs past which the pair is taken as possible
STRIP_MARGIN = 1e-9    # relative slack every containment test must clear
WITNESS = np.array([[1 / 3, 1 / 3, 1 / 3], [0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])


class StripSide(NamedTuple):
    """One segment A -> B (the solid on its left) of a pair: its ends, the solid's corner angles
    there (radians), the points whose being the apex voids the tests past the triangle's sides
    (the other segment's ends, the vertex before A and the one after B) and outline vertices its
    triangle may not hold (those nearest the pair)."""
    a: np.ndarray
    b: np.ndarray
    corner: np.ndarray
    special: np.ndarray
    obstacles: np.ndarray


class _Cells(NamedTuple):
    """Cells of (alpha, beta) of one side, with what the tests read: the triangle at the smallest
    angles (``low``), the apexes' quadrilateral (``quad``; ``bounded``), the apex at the middle,
    whether no special point can be the apex (``plain``) and whether the cell is still alive."""
    a0: np.ndarray
    a1: np.ndarray
    b0: np.ndarray
    b1: np.ndarray
    low: np.ndarray
    quad: np.ndarray
    bounded: np.ndarray
    centre: np.ndarray
    plain: np.ndarray
    alive: np.ndarray


def pair_possible(one: StripSide, two: StripSide, t: float) -> bool:
    """Whether segments ``one`` and ``two`` may both have their triangles at smallest angle ``t``
    (radians) under the conditions above; False only where no cell pair can."""
    cells = (_cells(one, _grid(t), t, two), _cells(two, _grid(t), t, one))
    i, j = (np.flatnonzero(c.alive) for c in cells)
    i, j = np.repeat(i, len(j)), np.tile(j, len(i))
    for level in range(STRIP_DEPTH + 1):
        keep = ~_excluded(one, two, cells[0], cells[1], i, j, t)
        i, j = i[keep], j[keep]
        if not len(i):
            return False
        if len(i) > STRIP_CELLS or level == STRIP_DEPTH:
            return True
        (ui, inv_i), (uj, inv_j) = np.unique(i, return_inverse=True), np.unique(j, return_inverse=True)
        cells = (_cells(one, _halved(cells[0], ui), t, two), _cells(two, _halved(cells[1], uj), t, one))
        quarter = np.arange(4)
        i = (4 * inv_i[:, None, None] + quarter[None, :, None]).repeat(4, axis=2).ravel()
        j = (4 * inv_j[:, None, None] + quarter[None, None, :]).repeat(4, axis=1).ravel()
        alive = cells[0].alive[i] & cells[1].alive[j]
        i, j = i[alive], j[alive]
    return True


def _grid(t: float) -> tuple[np.ndarray, ...]:
    """The first cells: ``STRIP_GRID`` x ``STRIP_GRID`` over [t, pi - 2t] at each end."""
    edges = t + (math.pi - 3 * t) * np.arange(STRIP_GRID + 1) / STRIP_GRID
    a0, b0 = (g.ravel() for g in np.meshgrid(edges[:-1], edges[:-1], indexing="ij"))
    a1, b1 = (g.ravel() for g in np.meshgrid(edges[1:], edges[1:], indexing="ij"))
    return a0, a1, b0, b1


def _halved(cells: _Cells, index: np.ndarray) -> tuple[np.ndarray, ...]:
    """The four quarters of each cell at ``index``, four rows per cell in order."""
    a0, a1, b0, b1 = (c[index] for c in cells[:4])
    am, bm = (a0 + a1) / 2, (b0 + b1) / 2
    stack = lambda *parts: np.stack(parts, axis=1).ravel()  # noqa: E731 - row k's quarters at 4k..4k+3
    return stack(a0, a0, am, am), stack(am, am, a1, a1), stack(b0, bm, b0, bm), stack(bm, b1, bm, b1)


@np.errstate(invalid="ignore", divide="ignore")  # cells past the apex angle are masked
def _cells(side: StripSide, bounds: tuple[np.ndarray, ...], t: float, other: StripSide) -> _Cells:
    """The ``_Cells`` of ``side``: alive while the apex angle, the corners, the other segment's core
    (which its triangle always holds) and the outline vertices near allow the triangle at the
    cell's smallest angles."""
    a0, a1, b0, b1 = bounds
    a1, b1 = np.minimum(a1, math.pi - t - b0), np.minimum(b1, math.pi - t - a0)
    alive = (a0 <= a1) & (b0 <= b1) & (a0 + b0 <= math.pi - t) & (a0 <= side.corner[0]) & (b0 <= side.corner[1])
    low = _triangles(side, _apex(side, a0, b0))
    core = isosceles(other.a[None], other.b[None], t)
    alive &= ~convex_overlap(low, np.broadcast_to(core, low.shape))
    alive &= ~_inside(low, np.broadcast_to(side.obstacles, (len(low), *side.obstacles.shape))).any(axis=1)
    bounded = a1 + b1 < math.pi - 1e-9
    quad = np.stack([_apex(side, a, b) for a, b in ((a0, b0), (a1, b0), (a1, b1), (a0, b1))], axis=1)
    quad = np.where(bounded[:, None, None], quad, 0.0)
    plain = bounded & ~_any_inside(quad, side.special)
    return _Cells(a0, a1, b0, b1, low, quad, bounded, _apex(side, (a0 + a1) / 2, (b0 + b1) / 2), plain, alive)


def _apex(side: StripSide, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``(k, 2)`` apex with angles alpha at A and beta at B over segment AB, on the solid's side."""
    d = side.b - side.a
    n = np.array([-d[1], d[0]])
    r = np.sin(beta) / np.sin(alpha + beta)
    return side.a + r[:, None] * (np.cos(alpha)[:, None] * d + np.sin(alpha)[:, None] * n)


def _triangles(side: StripSide, apex: np.ndarray) -> np.ndarray:
    """``(k, 3, 2)`` triangles A, B, apex (counter-clockwise)."""
    return np.stack([np.broadcast_to(side.a, apex.shape), np.broadcast_to(side.b, apex.shape), apex], axis=1)


def isosceles(p: np.ndarray, q: np.ndarray, t: float) -> np.ndarray:
    """``(k, 3, 2)`` isosceles triangles with base angles t (radians) on p -> q, on its left (a
    segment's or a side's *core*)."""
    d = q - p
    apex = (p + q) / 2 + np.stack([-d[:, 1], d[:, 0]], axis=1) * (0.5 * math.tan(t))
    return np.stack([p, q, apex], axis=1)


def _excluded(one: StripSide, two: StripSide, c1: _Cells, c2: _Cells, i: np.ndarray, j: np.ndarray,
              t: float) -> np.ndarray:
    """``(k,) bool``: cell pairs (``i`` of ``one``, ``j`` of ``two``) whose regions provably overlap."""
    out = convex_overlap(c1.low[i], c2.low[j])
    plain = ~out & c1.plain[i] & c2.plain[j]
    k = np.flatnonzero(plain)
    if not len(k):
        return out
    apart = np.zeros(len(i), dtype=bool)
    apart[k] = ~convex_overlap(c1.quad[i[k]], c2.quad[j[k]])  # the apexes cannot be one point
    regions1 = [("low", one, c1, i), ("a", one, c1, i), ("b", one, c1, i)]
    regions2 = [("low", two, c2, j), ("a", two, c2, j), ("b", two, c2, j)]
    for x in regions1:
        for y in regions2:
            if x[0] == "low" and y[0] == "low":
                continue
            test = k if x[0] == "low" or y[0] == "low" else k[apart[k]]
            test = test[~out[test]]
            if len(test):
                out[test] = _witnessed(x, y, test, t)
    return out


def _witnessed(x: tuple, y: tuple, k: np.ndarray, t: float) -> np.ndarray:
    """``(len(k),) bool``: whether a point lies in region ``x`` for every apex of its cell and in
    region ``y`` for every apex of its own; candidates from both regions at the cells' middles."""
    shapes = [_region_at_centre(r, k, t) for r in (x, y)]
    cand = np.concatenate([np.einsum("wc,kcd->kwd", WITNESS, s) for s in shapes] + [_meet_point(*shapes)[:, None]],
                          axis=1)  # (k, 9, 2)
    return (_holds(x, k, cand, t) & _holds(y, k, cand, t)).any(axis=1)


def _region_at_centre(region: tuple, k: np.ndarray, t: float) -> np.ndarray:
    """``(len(k), 3, 2)`` the region's triangle at its cell's middle apex (the low triangle as it is)."""
    kind, side, cells, index = region
    if kind == "low":
        return cells.low[index[k]]
    centre = cells.centre[index[k]]
    ends = np.broadcast_to(side.a if kind == "a" else side.b, centre.shape)
    return isosceles(ends, centre, t) if kind == "a" else isosceles(centre, ends, t)


def _meet_point(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``(k, 2)``: the mean of the corners of each intersection of triangles ``p`` and ``q`` (inside
    it when it has area: its corners are the corners of each inside the other and the sides'
    crossings); NaN where they do not meet."""
    pts, ok = [], []
    for a, b in ((p, q), (q, p)):
        pts.append(a)
        ok.append(_inside(b, a, strict=False))
    for e in range(3):
        for f in range(3):
            x, hit = _crossing(p[:, e], p[:, (e + 1) % 3], q[:, f], q[:, (f + 1) % 3])
            pts.append(x[:, None])
            ok.append(hit[:, None])
    pts, ok = np.concatenate(pts, axis=1), np.concatenate(ok, axis=1)
    count = ok.sum(axis=1)
    mean = (pts * ok[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    return np.where((count >= 3)[:, None], mean, np.nan)


def _crossing(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``(k, 2)`` crossing point, ``(k,) bool`` whether segments ab and cd cross)."""
    r, s, ac = b - a, d - c, c - a
    den = cross2(r, s)
    safe = np.where(den == 0, 1.0, den)
    u, v = cross2(ac, s) / safe, cross2(ac, r) / safe
    return a + u[:, None] * r, (den != 0) & (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)


def _holds(region: tuple, k: np.ndarray, w: np.ndarray, t: float) -> np.ndarray:
    """``(len(k), m) bool``: whether points ``w`` lie inside the region for every apex of the cell."""
    kind, side, cells, index = region
    c = index[k]
    if kind == "low":
        return _inside(cells.low[c], w)
    d = side.b - side.a
    n = np.array([-d[1], d[0]])
    end, along = (side.a, d) if kind == "a" else (side.b, -d)
    lo, hi = (cells.a0[c], cells.a1[c]) if kind == "a" else (cells.b0[c], cells.b1[c])
    rel = w - end
    angle = np.arctan2(rel @ n, rel @ along)  # from the segment toward the solid
    margin = STRIP_MARGIN * 2 * math.pi
    ok = (angle > hi[:, None] + margin) & (angle < lo[:, None] + t - margin) & cells.bounded[c, None]
    return ok & _sees_under(end, w, cells.quad[c], cells.centre[c], t)


def _sees_under(end: np.ndarray, w: np.ndarray, quad: np.ndarray, centre: np.ndarray, t: float) -> np.ndarray:
    """``(k, m) bool``: whether every point of each convex ``quad`` (on the side of line end -> w
    that ``centre`` is on) sees ``end`` and ``w`` under an angle below t: the quad misses the disk
    through both on that side where the chord subtends t."""
    chord = w - end
    length = np.hypot(chord[..., 0], chord[..., 1])
    normal = np.stack([-chord[..., 1], chord[..., 0]], axis=-1) / np.maximum(length, 1e-300)[..., None]
    to_centre = centre[:, None, :] - end
    normal *= np.where((to_centre * normal).sum(-1) < 0, -1.0, 1.0)[..., None]
    middle = (end + w) / 2 + normal * (length / (2 * math.tan(t)))[..., None]
    radius = length / (2 * math.sin(t))
    return _distance_to_convex(quad, middle) > radius * (1 + STRIP_MARGIN) + STRIP_MARGIN


def convex_overlap(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``(k,) bool``: whether convex polygons ``p`` and ``q`` (``(k, m, 2)``, either orientation)
    overlap with positive area (separating axis test over their unit edge normals, touching
    allowed within ``STRIP_MARGIN`` of ``p``'s size)."""
    eps = STRIP_MARGIN * np.maximum(np.abs(p).max(axis=(1, 2)), 1.0)
    apart = np.zeros(len(p), dtype=bool)
    for shape in (p, q):
        for e in range(shape.shape[1]):
            d = np.roll(shape, -1, axis=1)[:, e] - shape[:, e]
            n = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-300)[:, None]
            pp, qq = (p * n[:, None]).sum(-1), (q * n[:, None]).sum(-1)
            apart |= (pp.max(1) <= qq.min(1) + eps) | (qq.max(1) <= pp.min(1) + eps)
    return ~apart


def _inside(tri: np.ndarray, w: np.ndarray, *, strict: bool = True) -> np.ndarray:
    """``(k, m) bool``: points ``w`` (``(k, m, 2)``) inside counter-clockwise triangles ``tri``:
    farther than ``STRIP_MARGIN`` of the triangle's size from each side (``strict``), or inside or on it."""
    scale = np.maximum(np.abs(tri).max(axis=(1, 2)), 1.0)[:, None]
    inside = np.ones(w.shape[:2], dtype=bool)
    for e in range(3):
        side = (tri[:, (e + 1) % 3] - tri[:, e])[:, None]
        cross = cross2(side, w - tri[:, e, None])
        inside &= (cross > STRIP_MARGIN * scale * np.hypot(side[..., 0], side[..., 1])) if strict else (cross >= 0)
    return inside


def _any_inside(quad: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(k,) bool``: whether any of ``points`` lies in each convex quad or within the margin of it."""
    w = np.broadcast_to(points[None], (len(quad), *points.shape))
    scale = np.maximum(np.abs(quad).max(axis=(1, 2)), 1.0)[:, None]
    return (_distance_to_convex(quad, w) <= STRIP_MARGIN * scale).any(axis=1)


def _distance_to_convex(poly: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(k, m)`` distance from points ``w`` to convex polygons ``poly`` (0 inside), either orientation."""
    nxt = np.roll(poly, -1, axis=1)
    d = (nxt - poly)[:, None]                      # (k, 1, e, 2)
    rel = w[:, :, None, :] - poly[:, None]         # (k, m, e, 2)
    cross = cross2(d, rel)
    inside = (cross >= 0).all(axis=2) | (cross <= 0).all(axis=2)
    f = np.clip((rel * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-300), 0.0, 1.0)
    gap = rel - f[..., None] * d
    return np.where(inside, 0.0, np.hypot(gap[..., 0], gap[..., 1]).min(axis=2))
