"""What a sprite mesh is worth: the smallest angle its outline forces (``forced_min_angle``),
opaque coverage and wasted area (``coverage_stats``), and the result's metadata."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from pipelines.contour_geometry import flat_counts, row_cumsum, row_spans, winding_at
from pipelines.contour_kernels import strided_coverage
from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_refine import min_angles, triangle_areas
from pipelines.contour_rings import Mesh, Ring, cross2, next_index, ring_edges, roll_next, roll_prev
from pipelines.contour_strips import StripSide, convex_overlap, isosceles, pair_possible


def outline_rings(result: dict) -> list[np.ndarray]:
    """The outline loops of a result, as ``(n, 2) float`` point rings, from its boundary edges.

    For quality figures off the hot path (``forced_min_angle`` is too slow to compute per job).
    """
    points = np.asarray(result["vertices"], dtype=float)
    return [points[loop] for loop in outline_loops(result)]


def outline_loops(result: dict) -> list[list[int]]:
    """The outline loops of a result as vertex indices, each in its boundary edges' order."""
    following = {int(a): int(b) for a, b in result["boundary_edges"]}
    loops, seen = [], set()
    for start in following:
        if start in seen:
            continue
        loop, at = [], start
        while at not in seen:
            seen.add(at)
            loop.append(at)
            at = following.get(at, start)
        loops.append(loop)
    return loops


def forced_min_angle(rings: list[np.ndarray], cap: float = 60.0, *, split_outline: bool = False,
                     pairs: bool = True, shadows: bool = True, strips: bool = True, min_area: float = 0.0) -> float:
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
    - shadows: an outline vertex near a segment's triangle must lie outside it and outside the
      triangles past its other two sides, which bounds how far the apex can rise; tested below
      ``TOL.min_angle_deg`` only (``_shadow_bound``). The conditions above miss this: under a
      notch whose tip comes near a long segment they allowed 19.3 degrees where 10.4 is the most.
    - strips (``contour_strips``): those two segments' triangles and the triangles past their free
      sides are all different triangles unless the apexes meet (or one is an end of the other
      segment), so the cores on those sides must stay apart too; where the pairs condition let
      two cores meet corner to side (a T junction, on tapered strips) the apexes must meet, and
      the bound falls to what a shared apex allows (the spear 9.45 -> 9.31 degrees, which the
      mesher reaches). Tested below ``TOL.min_angle_deg`` only, on the pairs whose cores meet
      within ``STRIP_REACH_DEG`` of the bound so far.
    - area (with ``min_area``, the mesh's ``min_triangle_area``, which binds every triangle with a
      Steiner vertex): a segment's triangle with a Steiner apex has at least that area, so on a
      segment of length L its apex angle is at most ``2 atan(L^2 / (4 min_area))`` (the apex at
      the lowest height allowed, the triangle isosceles); with an outline vertex as its apex it is
      bounded by the best such vertex (``_area_bound``), and that is all it can reach where the
      outline leaves no room that high for a Steiner apex (``_no_room_above``). This binds on
      sub-pixel segments only.

    With ``split_outline`` (segments may be split) only the corners and the area condition force
    anything (the area one without ``_no_room_above``: a split point is a Steiner apex too, and a
    split segment's pieces are shorter, so bound lower); ``pairs=False`` leaves the pairs, shadow
    and strips conditions out (the bound as it was first written, for comparisons), ``shadows=False``
    and ``strips=False`` the shadow and the strips condition.

    Given the rings of several islands it stays an upper bound but may be looser than the smallest
    of the islands' own (the area condition takes any outline vertex as a possible apex, another
    island's too: 18.9 against 11.3 degrees on the corpus's hair sheet): bound each island on its
    own and take the smallest.
    """
    rings = [np.asarray(r, dtype=float) for r in rings if len(r) >= 3]
    if not rings:
        return cap
    pts = np.concatenate(rings)
    prv = np.concatenate([roll_prev(r) for r in rings])
    nxt = np.concatenate([roll_next(r) for r in rings])
    u, v = prv - pts, nxt - pts
    corner = np.degrees(np.mod(-np.arctan2(cross2(u, v), (u * v).sum(1)), 2 * np.pi))
    best = min(cap, float(corner.min()))
    nidx = next_index([len(r) for r in rings])
    if split_outline:  # a split piece's triangle has a Steiner vertex (the split point): the area holds
        return min(best, _area_bound(_segments(pts, nxt, nidx), min_area, cap, room=False)) if min_area > 0 else best
    l_in, l_out = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
    best = min(best, _grading_bound(corner, l_in, l_out, cap))
    best = min(best, _segment_bound(corner, l_in, l_out, nidx, best))
    seg = _segments(pts, nxt, nidx)
    best = min(best, _clearance_bound(seg, cap))
    if min_area > 0:
        best = min(best, _area_bound(seg, min_area, cap))
    if not pairs:
        return best
    best = min(best, _pair_bound(seg, cap))
    if shadows:
        best = min(best, _shadow_bound(seg, prv, corner, best))
    return min(best, _strip_bound(seg, prv, corner, best)) if strips else best


class _Segments(NamedTuple):
    """The outline's segments, one per vertex (from it to the next point of its ring), as the
    clearance, area, pairs and shadow conditions read them: the points at each end, the index of
    the end, the vector, length, unit direction and unit inward normal (the solid's side, left of
    the walk), and the midpoint."""
    start: np.ndarray
    end: np.ndarray
    end_index: np.ndarray
    side: np.ndarray
    length: np.ndarray
    along: np.ndarray
    inward: np.ndarray
    mid: np.ndarray


def _segments(pts: np.ndarray, nxt: np.ndarray, nidx: np.ndarray) -> _Segments:
    """The ``_Segments`` of the outline points ``pts`` with their next points ``nxt`` (at ``nidx``)."""
    side = nxt - pts
    length = np.linalg.norm(side, axis=1)
    along = side / np.maximum(length, 1e-300)[:, None]
    return _Segments(pts, nxt, nidx, side, length, along, np.stack([-along[:, 1], along[:, 0]], axis=1),
                     (pts + nxt) / 2)


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
    return _bisect_segments(lambda k, t: _segment_possible(*(e[k] for e in ends), t), len(sel), math.radians(cap),
                            cap, SEGMENT_CHUNK)


def _bisect_segments(possible: Callable[[np.ndarray, float], np.ndarray], count: int, hi: float, cap: float,
                     chunk: int, steps: int = 31) -> float:
    """Degrees: the smallest t (radians, bisected below ``hi``) at which ``possible(indices, t)`` found
    one of ``count`` segments impossible (``chunk`` segments a call); ``cap`` when all are possible at
    ``hi``. A segment possible at t stays possible below it, so only the others are tested further."""
    lo, todo = 0.0, np.arange(count)
    for step in range(steps):
        t = hi if step == 0 else (lo + hi) / 2
        ok = np.concatenate([possible(todo[i:i + chunk], t) for i in range(0, len(todo), chunk)])
        if ok.all():
            if step == 0:
                return cap
            lo = t
        else:
            hi, todo = t, todo[~ok]
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


def _area_bound(seg: _Segments, min_area: float, cap: float, *, room: bool = True) -> float:
    """The area condition of ``forced_min_angle``: on each segment AB short enough that an
    equilateral triangle on it is under ``min_area``, the most its one triangle ABC can reach: the
    larger of ``2 atan(L^2 / (4 min_area))`` (C a Steiner point) and the best smallest angle of ABC
    over the outline vertices C on the solid's side (any of them, seen or not: an upper bound).
    A Steiner apex is left out where no room is high enough for it (``_no_room_above``; with
    ``room`` only)."""
    pts, side, length = seg.start, seg.side, seg.length
    short = np.flatnonzero(length * length < 4 * min_area / math.sqrt(3))
    best = cap
    for s in short.tolist():
        steiner = math.degrees(2 * math.atan(length[s] ** 2 / (4 * min_area)))
        if steiner >= best:
            continue
        a, d = pts[s], side[s]
        to_a, to_b = pts - a, pts - (a + d)
        height = d[0] * to_a[:, 1] - d[1] * to_a[:, 0]  # > 0: on the solid's (left) side
        at_a = np.degrees(np.arctan2(np.abs(height), to_a @ d))
        at_b = np.degrees(np.arctan2(np.abs(height), -(to_b @ d)))
        vertex = float(np.minimum(np.minimum(at_a, at_b), 180.0 - at_a - at_b)[height > 0].max(initial=0.0))
        if room and vertex < steiner and _no_room_above(seg, s, 2 * min_area / length[s], math.radians(vertex)):
            steiner = vertex
        best = min(best, max(steiner, vertex))
    return best


def _no_room_above(seg: _Segments, s: int, rise: float, t: float) -> bool:
    """Whether no Steiner apex P of segment ``s`` (AB) at ``rise`` or more above it leaves a triangle
    ABP with angles over ``t`` at A and B: then the direction from AB's midpoint M to P lies in
    ``[t, pi - t]``, and the segment MP, inside ABP, may cross no outline segment. Every ray from M
    in that sector meets an outline segment that is nowhere more than ``rise`` above AB (so at
    that height or lower, with P at or past it), when such segments' angular spans cover the sector.
    Used by ``_area_bound``: a sub-pixel segment under a wall a pixel or two away (a 1 px leg, the
    inside of a thin arch) has its triangle's apex on the outline, whatever the bound allowed."""
    x = (seg.start - seg.mid[s]) @ seg.along[s], (seg.end - seg.mid[s]) @ seg.along[s]
    y = (seg.start - seg.mid[s]) @ seg.inward[s], (seg.end - seg.mid[s]) @ seg.inward[s]
    low = (np.maximum(*y) <= rise) & (np.maximum(*y) > 0) & (np.arange(len(seg.length)) != s)
    x0, y0, x1, y1 = x[0][low], y[0][low], x[1][low], y[1][low]
    clip0, clip1 = y0 < 0, y1 < 0  # the part of a segment behind AB's line cannot block: cut it there
    f0 = np.where(clip0, y1 / np.where(clip0, y1 - y0, 1.0), 0.0)
    f1 = np.where(clip1, y0 / np.where(clip1, y0 - y1, 1.0), 0.0)
    x0, y0, x1, y1 = (np.where(clip0, x1 + f0 * (x0 - x1), x0), np.maximum(y0, 0.0),
                      np.where(clip1, x0 + f1 * (x1 - x0), x1), np.maximum(y1, 0.0))
    ends = np.sort(np.stack([np.arctan2(y0, x0), np.arctan2(y1, x1)], axis=1), axis=1)
    reach = max(t, 1e-9)
    for lo, hi in ends[np.argsort(ends[:, 0])].tolist():  # sweep the spans: do they cover the sector?
        if lo > reach:
            return False
        reach = max(reach, hi)
        if reach >= math.pi - max(t, 1e-9):
            return True
    return False


def _clearance_bound(seg: _Segments, cap: float) -> float:
    """The clearance condition of ``forced_min_angle``, with k-d trees for the near obstacles."""
    from scipy.spatial import cKDTree

    pts, nxt, nidx, along, inward, mid = seg.start, seg.end, seg.end_index, seg.along, seg.inward, seg.mid
    length = np.maximum(seg.length, 1e-12)
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


def _pair_bound(seg: _Segments, cap: float) -> float:
    """The pairs condition of ``forced_min_angle``: the largest t (bisection per pair) at which the
    isosceles triangles with base angles t on every two segments without a common vertex do not
    overlap, over the pairs that may meet at ``cap`` (``_near_pairs``)."""
    si, sj = _near_pairs(seg, cap)
    lo, hi = 0.0, math.radians(cap)
    meet = _isosceles_overlap(seg.start, seg.end, si, sj, hi)
    if not meet.any():
        return cap
    si, sj = si[meet], sj[meet]
    for _ in range(40):  # on the smallest t over the pairs; a pair apart at some t cannot decide below it
        mid_t = (lo + hi) / 2
        over = _isosceles_overlap(seg.start, seg.end, si, sj, mid_t)
        if over.any():
            hi, si, sj = mid_t, si[over], sj[over]
        else:
            lo = mid_t
    return math.degrees(lo)


def _near_pairs(seg: _Segments, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, j), i < j: the segments without a common vertex whose isosceles triangles with base
    angles ``cap`` may meet (k-d tree on segment midpoints)."""
    from scipy.spatial import cKDTree

    nidx, length, mid = seg.end_index, seg.length, seg.mid
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
    return si[keep], sj[keep]


STRIP_REACH_DEG = 1.0  # the strips condition tests the pairs whose cores meet this far above the bound so far
STRIP_CHUNK = 8         # pairs tested at once
STRIP_STEPS = 21        # bisection steps (2e-5 degrees at 20)


def _strip_bound(seg: _Segments, prv: np.ndarray, corner: np.ndarray, cap: float) -> float:
    """The strips condition of ``forced_min_angle`` (``contour_strips``): the largest t (bisection)
    at which every pair of segments whose isosceles cores meet at ``STRIP_REACH_DEG`` over ``cap``
    may have its triangles; tested below ``TOL.min_angle_deg`` only."""
    hi = min(cap, TOL.min_angle_deg)
    reach = min(hi + STRIP_REACH_DEG, 60.0)
    si, sj = _near_pairs(seg, reach)
    meet = _isosceles_overlap(seg.start, seg.end, si, sj, math.radians(reach))
    si, sj = si[meet], sj[meet]
    if not len(si):
        return cap
    from scipy.spatial import cKDTree

    phi = np.radians(np.stack([corner, corner[seg.end_index]], axis=1))
    after = seg.end[seg.end_index]
    tree = cKDTree(seg.start)
    k = min(SHADOW_NEAR, len(seg.start))
    near = np.concatenate([tree.query(seg.mid[si], k=k)[1].reshape(len(si), -1),
                           tree.query(seg.mid[sj], k=k)[1].reshape(len(sj), -1)], axis=1)

    def side(s: np.ndarray, o: np.ndarray) -> list[StripSide]:
        pairs = enumerate(zip(s.tolist(), o.tolist(), strict=True))
        return [StripSide(seg.start[a], seg.end[a], phi[a], np.stack([seg.start[b], seg.end[b], prv[a], after[a]]),
                          seg.start[np.unique(near[x])]) for x, (a, b) in pairs]

    one, two = side(si, sj), side(sj, si)
    return _bisect_segments(lambda k, t: np.array([pair_possible(one[x], two[x], t) for x in k.tolist()], dtype=bool),
                            len(si), math.radians(hi), cap, STRIP_CHUNK, STRIP_STEPS)


def _isosceles_overlap(a: np.ndarray, b: np.ndarray, si: np.ndarray, sj: np.ndarray, t: float) -> np.ndarray:
    """``(k,) bool``: whether the isosceles triangles with base angles ``t`` (radians) on segments
    ``a[si] b[si]`` and ``a[sj] b[sj]`` (on their left, the solid's side) overlap with positive
    area (``contour_strips.convex_overlap``, touching allowed)."""
    return convex_overlap(isosceles(a[si], b[si], t), isosceles(a[sj], b[sj], t))


SHADOW_GRID = 8        # first apex-angle cells per end in the shadow condition,
SHADOW_DEPTH = 6       # halvings of a cell that may still hold the triangle,
SHADOW_CELLS = 16      # and open cells per segment past which it is taken as possible (no more halving)
SHADOW_NEAR = 12       # outline vertices tested per segment (the nearest to the segment's midpoint)
SHADOW_CHUNK = 64      # segments tested at once
SHADOW_MARGIN = 1e-9   # radians a vertex's angles must clear a cell by to exclude it


class _ShadowFrame(NamedTuple):
    """Segments in their own frames (A at 0, B at (L, 0), the solid at y > 0), with their nearest
    outline vertices (``x``, ``y``: (n, m); ``real``: not A or B; their angles at A from AB and at
    B from BA), the vertex before A and the one after B, and the solid's corner angles at A and B."""
    length: np.ndarray
    x: np.ndarray
    y: np.ndarray
    real: np.ndarray
    ang_a: np.ndarray
    ang_b: np.ndarray
    before_a: np.ndarray
    after_b: np.ndarray
    phi: np.ndarray

    def take(self, index: np.ndarray) -> _ShadowFrame:
        return _ShadowFrame(*(field[index] for field in self))


def _shadow_bound(seg: _Segments, prv: np.ndarray, corner: np.ndarray, cap: float) -> float:
    """The shadow condition of ``forced_min_angle``: the largest t (bisection) at which every segment
    AB may still have its one triangle ABC (angles alpha at A, beta at B, both >= t, apex >= t;
    alpha and beta within the solid's corners at A and B) such that

    - no outline vertex P lies inside ABC (P is inside exactly when its angles at A and B are under
      alpha and beta);
    - past each side AC that is not itself an outline segment, the triangle ACD on AC's other side
      leaves out every outline vertex P beyond AC: the wedges of ACD at A and at C meet exactly in
      ACD, so its angle at A is at most the angle CAP or its angle at C at most ACP, and t <=
      max(CAP, ACP) (``_shadow_excluded``). Side BC likewise.

    On a long segment under a notch this is what forces a small angle: the apex must stay below
    the notch's tip, and the side from A to the apex then passes the tip at an angle too small for
    the triangle beyond it. The pairs and clearance conditions only see the apex's own triangle.
    (alpha, beta) is searched over cells, each excluded only when every point of it is (interval
    bounds) and halved while it is not (``_shadow_possible``), so a t found impossible is."""
    from scipy.spatial import cKDTree

    pts, nxt, nidx, ex, ey = seg.start, seg.end, seg.end_index, seg.along, seg.inward
    length = np.maximum(seg.length, 1e-300)

    def local(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = q - pts[:, None, :]
        return (rel * ex[:, None]).sum(-1), (rel * ey[:, None]).sum(-1)

    near = cKDTree(pts).query(seg.mid, k=min(SHADOW_NEAR, len(pts)))[1].reshape(len(pts), -1)
    x, y = local(pts[near])
    ln = length[:, None]
    real = (np.hypot(x, y) > TOL.geom_eps * ln) & (np.hypot(x - ln, y) > TOL.geom_eps * ln)
    bx, by = local(prv[:, None])
    ax, ay = local(nxt[nidx][:, None])
    frame = _ShadowFrame(length, x, y, real, np.arctan2(y, x), np.arctan2(y, ln - x),
                         np.concatenate([bx, by], axis=1), np.concatenate([length[:, None] - ax, ay], axis=1),
                         np.radians(np.stack([corner, corner[nidx]], axis=1)))
    return _bisect_segments(lambda k, t: _shadow_possible(frame.take(k), t), len(pts),
                            math.radians(min(cap, TOL.min_angle_deg)), cap, SHADOW_CHUNK)


def _shadow_possible(frame: _ShadowFrame, t: float) -> np.ndarray:
    """``(k,) bool``: whether some (alpha, beta) cell may hold each segment's triangle at t under
    ``_shadow_bound``'s conditions: cells still open are halved ``SHADOW_DEPTH`` times; a segment
    is possible when a cell is open at the last halving or more than ``SHADOW_CELLS`` are open."""
    k, g = len(frame.length), SHADOW_GRID
    edges = t + (math.pi - 3 * t) * np.arange(g + 1) / g
    seg = np.repeat(np.arange(k), g * g)
    a0, a1 = (np.tile(np.repeat(e, g), k) for e in (edges[:-1], edges[1:]))
    b0, b1 = (np.tile(e, g * k) for e in (edges[:-1], edges[1:]))
    possible = np.zeros(k, dtype=bool)
    for level in range(SHADOW_DEPTH + 1):
        a1, b1 = np.minimum(a1, math.pi - t - b0), np.minimum(b1, math.pi - t - a0)  # where the apex is >= t
        keep = _cell_open(frame, seg, a0, a1, b0, b1, t)
        seg, a0, a1, b0, b1 = seg[keep], a0[keep], a1[keep], b0[keep], b1[keep]
        count = np.bincount(seg, minlength=k)
        possible |= count > (SHADOW_CELLS if level < SHADOW_DEPTH else 0)
        keep = ~possible[seg]
        if level == SHADOW_DEPTH or not keep.any():
            break
        seg, a0, a1, b0, b1 = seg[keep], a0[keep], a1[keep], b0[keep], b1[keep]
        am, bm = (a0 + a1) / 2, (b0 + b1) / 2
        seg = np.tile(seg, 4)
        a0, a1 = np.concatenate([a0, a0, am, am]), np.concatenate([am, am, a1, a1])
        b0, b1 = np.concatenate([b0, bm, b0, bm]), np.concatenate([bm, b1, bm, b1])
    return possible


def _cell_open(frame: _ShadowFrame, seg: np.ndarray, a0: np.ndarray, a1: np.ndarray, b0: np.ndarray,
               b1: np.ndarray, t: float) -> np.ndarray:
    """``(c,) bool``: cells (of segments ``seg``) not excluded by the angles or by an outline vertex P.
    P's angles at A and B split a cell in four: below both (P beyond AC and BC), below one (P
    beyond that side), and above both (P inside ABC or on a side, unless C is P itself); P
    excludes the cell when it excludes each part that is not empty (``_shadow_excluded``)."""
    alive = (a0 + b0 <= math.pi - t) & (a0 <= frame.phi[seg, 0]) & (b0 <= frame.phi[seg, 1])
    pa, pb = frame.ang_a[seg], frame.ang_b[seg]
    cell = tuple(c[:, None] for c in (a0, a1, b0, b1))
    # the part above both angles is empty, or misses C = P (cheap, so tested first); a margin keeps
    # P off the cell's closure, so it is never a corner of the parts the shadow tests bound
    m = SHADOW_MARGIN
    maybe = frame.real[seg] & (frame.y[seg] > 0) & alive[:, None] & (
        (pa > cell[1] + m) | (pb > cell[3] + m) | (pa < cell[0] - m) | (pb < cell[2] - m))
    ci, pi = np.nonzero(maybe)
    if not len(ci):
        return alive
    s = seg[ci]
    pa, pb = pa[ci, pi], pb[ci, pi]
    a0, a1, b0, b1 = (c[ci] for c in (a0, a1, b0, b1))
    a_low, a_high, b_low, b_high = np.minimum(a1, pa), np.maximum(a0, pa), np.minimum(b1, pb), np.maximum(b0, pb)
    length, x, y = frame.length[s], frame.x[s, pi], frame.y[s, pi]
    mirrored = length - x

    def beyond(k: np.ndarray, side_b: bool, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The shadow test past AC (past BC: ``side_b``) on pairs ``k``, the other angle in [lo, hi]."""
        if side_b:
            return _shadow_excluded(length[k], mirrored[k], y[k], pb[k], frame.after_b[s[k]],
                                    (b0[k], b_low[k], lo[k], hi[k]), t)
        return _shadow_excluded(length[k], x[k], y[k], pa[k], frame.before_a[s[k]], (a0[k], a_low[k], lo[k], hi[k]), t)

    below_a, below_b = pa > a0, pb > b0
    excluded = ~(below_a & below_b)  # the part below both: P beyond AC and BC, either side's test
    k = np.flatnonzero(~excluded)
    excluded[k] = beyond(k, False, b0, b_low)
    k = k[~excluded[k]]
    excluded[k] = beyond(k, True, a0, a_low)
    k = np.flatnonzero(excluded & below_a & (pb <= b1))  # below the angle at A only: past AC
    excluded[k] = beyond(k, False, b_high, b1)
    k = np.flatnonzero(excluded & below_b & (pa <= a1))  # below the angle at B only: past BC
    excluded[k] = beyond(k, True, a_high, a1)
    out = alive.copy()
    out[ci[excluded]] = False
    return out


@np.errstate(invalid="ignore", divide="ignore")  # boxes with a corner at infinity are masked
def _shadow_excluded(length: np.ndarray, x: np.ndarray, y: np.ndarray, ang: np.ndarray, other_end: np.ndarray,
                     box: tuple, t: float) -> np.ndarray:
    """``(k,) bool``: whether boxes of apex angles (alpha in [a0, a1] at A, the origin; beta in
    [b0, b1] at B) hold no C for which the triangle ACD past side AC can leave out vertex P (at
    ``x``, ``y``, angle ``ang`` from AB, not under a1: P beyond AC or on its line) with angles >= t:
    max(CAP, ACP) < t for every C of the box, bounded as CAP <= ang - a0 and ACP = pi - CAP - APC
    <= pi - (ang - a1) - min APC, where the angle APC is smallest at a corner of the box (a convex
    quadrilateral) unless the box spans PA's direction. Boxes that may hold ``other_end`` (then AC
    may be an outline segment) and boxes with a corner at infinity are never excluded."""
    a0, a1, b0, b1 = box
    to_a = np.arctan2(-y, -x)
    rel = []
    for a, b in ((a0, b0), (a0, b1), (a1, b0), (a1, b1)):
        r = length * np.sin(b) / np.sin(a + b)
        rel.append((np.arctan2(r * np.sin(a) - y, r * np.cos(a) - x) - to_a + math.pi) % (2 * math.pi) - math.pi)
    rel = np.stack(rel)
    low, high = rel.min(axis=0), rel.max(axis=0)
    min_apc = np.where((high - low < math.pi) & (low <= 0) & (high >= 0), 0.0, np.abs(rel).min(axis=0))
    worst = np.maximum(ang - a0, math.pi - (ang - a1) - min_apc)
    ex, ey = other_end[:, 0], other_end[:, 1]
    oa, ob = np.arctan2(ey, ex), np.arctan2(ey, length - ex)
    holds_end = (ey > 0) & (oa >= a0) & (oa <= a1) & (ob >= b0) & (ob <= b1)
    return (a1 + b1 < math.pi) & (a0 <= a1) & (b0 <= b1) & ~holds_end & (worst < t)


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
    a, b = (end * scale for end in ring_edges(list(loops)))
    rows_h, cols_w = height * scale, width * scale
    row, edge = row_spans(np.ceil(np.minimum(a[:, 1], b[:, 1]) - 0.5),
                          np.ceil(np.maximum(a[:, 1], b[:, 1]) - 0.5), rows_h)
    t = (row + 0.5 - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
    x = a[edge, 0] + t * (b[edge, 0] - a[edge, 0])
    col = np.ceil(x - 0.5).clip(0, cols_w).astype(np.int64)
    crossings = flat_counts(row * (cols_w + 1) + col, rows_h * (cols_w + 1)).reshape(rows_h, cols_w + 1)
    return (row_cumsum(crossings)[:, :cols_w] & 1).astype(bool)


def coverage_stats(loops: list[np.ndarray], alpha: np.ndarray, opaque_at: int, scale: int,
                   stride: int = 1) -> dict:
    """Share of pixels with alpha >= opaque_at the mesh covers, and share of mesh area over alpha 0,
    from ``scale`` x ``scale`` samples per pixel, or with ``stride`` > 1 from the centres of every
    ``stride``-th pixel in each direction only (an unbiased estimate for large images; counted row
    by row, ``contour_kernels.strided_coverage``, the same cells as the raster)."""
    if stride > 1:
        first = stride // 2
        moved = (np.concatenate(loops) - (first + 0.5)) / stride + 0.5  # the loops in units of the strided grid
        ends = moved[next_index([len(loop) for loop in loops])]  # each edge's end, as ring_edges pairs them
        covered, opaque, inside, wasted = strided_coverage(moved, ends, alpha, opaque_at, first, stride)
        return {"opaque_coverage": covered / opaque if opaque else 1.0,
                "wasted_area": wasted / inside if inside else 0.0}
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


def mesh_metadata(mesh: Mesh, outline: list[Ring], alpha: np.ndarray, params: ContourParams,
                  held: np.ndarray, factor: int, closing_px: float) -> dict:
    """Counts, coverage of the thresholded pixels, wasted area and quality of the mesh."""
    height, width = alpha.shape
    loops = mesh.loop_points()
    scale, stride = _sampling(width, height)
    if stride > 1:  # a large image: the strided raster estimate
        stats = coverage_stats(loops, alpha, max(params.alpha_threshold, 1), scale, stride)
    else:
        area = float(triangle_areas(mesh.vertices, mesh.triangles).sum())
        stats = held_coverage(loops, alpha, max(params.alpha_threshold, 1), held, factor, area, scale)
    return {
        "width": width, "height": height,
        "vertex_count": len(mesh.vertices), "triangle_count": len(mesh.triangles),
        "hull_vertex_count": len(mesh.hull),
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
    a, b = (end * scale for end in ring_edges(loops))
    sub = np.arange(scale)
    px = (xs[:, None, None] * scale + sub[None, None, :] + 0.5).repeat(scale, axis=1)
    py = (ys[:, None, None] * scale + sub[None, :, None] + 0.5).repeat(scale, axis=2)
    points = np.stack([px.ravel(), py.ravel()], axis=1)
    width = int(np.ceil(max(a[:, 0].max(), b[:, 0].max(), points[:, 0].max()))) + 1
    odd = winding_at(a, b, points, width) % 2 != 0
    return odd.reshape(len(xs), scale * scale).mean(axis=1)
