"""Compiled loops (numba) of the sprite mesher: pooling's island boxes, label lookups, the solid's probe
pixels, Douglas-Peucker (as OpenCV runs it) and the outward simplification, the outline tidying's
merge candidates, the pixel and crossing checks, the strided
coverage estimate, hole points, triangle angles, each vertex's island, the refinement's validity
check, apex points, smoothing and the edge flips that make a smoothed mesh constrained Delaunay again.

Why compiled: those stages were vectorised numpy over a few hundred points per call, so their cost
was numpy's per-call overhead (~30 calls of a few microseconds per step), not arithmetic. The same
step as one loop runs 10-20x faster (the span offsets: 0.11 ms -> 0.007 ms a call on the corpus's
slowest sheets). Each kernel does the arithmetic of the numpy form it replaced in the same order,
so results are identical bit for bit (sha256 over the sprite corpus); numpy keeps what it computes
differently (the arctangent, sums of more than two terms), and the callers pass its results in.
``optimal_smoothing`` never had a numpy form: its Nelder-Mead search per vertex is a loop; nor
did ``delaunay_flips``, which stands in for a Triangle call (the same triangles, 3-5x faster).

Compiled on first call and cached on disk (``cache=True``: ``__pycache__`` beside this file, or
``NUMBA_CACHE_DIR``): ~26 s cold, under 1 s to load. ``warm()`` compiles or loads them all, as
``make install``, the image build and a contour worker before its pool forks do.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pipelines.contour_params import TOL

PARALLEL_SIN = TOL.parallel_sin
BEVEL_RATIO = TOL.bevel_ratio
GEOM_EPS = TOL.geom_eps
TIDY_PASSES = TOL.tidy_passes
TIDY_SIN = TOL.tidy_sin
TIDY_SHORT = TOL.tidy_short_ratio
TIDY_CHORD = TOL.tidy_notch_chord


# ---------------------------------------------------------------- rings


@njit(cache=True)
def ring_starts(owner: np.ndarray, count: int) -> np.ndarray:
    """``(count + 1,)`` first point of each ring, then n, for points grouped by ring (``owner``
    non-decreasing; empty rings allowed)."""
    starts = np.zeros(count + 1, dtype=np.int64)
    for r in owner:
        starts[r + 1] += 1
    for r in range(count):
        starts[r + 1] += starts[r]
    return starts


# ---------------------------------------------------------------- masks (contour)


@njit(cache=True)
def label_sizes(labels: np.ndarray, count: int) -> np.ndarray:
    """``(count - 1, 2)`` width and height of the bounding box of each label 1 .. count - 1 of a
    label image (``cv2.connectedComponentsWithStats``'s width and height columns, without its cost)."""
    lo_x = np.full(count, labels.shape[1], dtype=np.int64)
    lo_y = np.full(count, labels.shape[0], dtype=np.int64)
    hi_x = np.full(count, -1, dtype=np.int64)
    hi_y = np.full(count, -1, dtype=np.int64)
    for y in range(labels.shape[0]):
        row = labels[y]
        for x in range(labels.shape[1]):
            label = row[x]
            if label:
                lo_x[label] = min(lo_x[label], x)
                hi_x[label] = max(hi_x[label], x)
                lo_y[label] = min(lo_y[label], y)
                hi_y[label] = y
    out = np.empty((count - 1, 2), dtype=np.int64)
    for label in range(1, count):
        out[label - 1, 0], out[label - 1, 1] = hi_x[label] - lo_x[label] + 1, hi_y[label] - lo_y[label] + 1
    return out


@njit(cache=True)
def labels_in(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``table[labels]`` for a bool ``table`` over a label image's labels: which pixels have a label the
    table keeps (``np.take`` first widens the labels to 64 bits: 0.6-2.1 ms against 0.26-0.31 ms here
    on the theme atlas's two label images, inside ``mesh_rgba``)."""
    out = np.empty(labels.shape, dtype=np.bool_)
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            out[y, x] = table[labels[y, x]]
    return out


@njit(cache=True)
def corner_pixels(solid: np.ndarray) -> np.ndarray:
    """``(k, 2) int64`` (x, y) of the set pixels of a bool image with no set pixel above or to their
    left, in row order (``np.nonzero``'s): one pass to count, one to fill, instead of a copy, two
    masked ands and ``cv2.findNonZero``."""
    height, width = solid.shape
    count = 0
    for y in range(height):
        for x in range(width):
            if solid[y, x] and (y == 0 or not solid[y - 1, x]) and (x == 0 or not solid[y, x - 1]):
                count += 1
    out = np.empty((count, 2), dtype=np.int64)
    k = 0
    for y in range(height):
        for x in range(width):
            if solid[y, x] and (y == 0 or not solid[y - 1, x]) and (x == 0 or not solid[y, x - 1]):
                out[k, 0], out[k, 1] = x, y
                k += 1
    return out


# ---------------------------------------------------------------- outward simplification (contour_simplify)


@njit(cache=True)
def _bisector(normal: np.ndarray, prev: int, at: int) -> tuple[float, float]:
    """Unit outward bisector at anchor ``at`` (between the previous edge's normal and this one's)."""
    bx = normal[prev, 0] + normal[at, 0]
    by = normal[prev, 1] + normal[at, 1]
    length = math.sqrt(bx * bx + by * by)
    if length > PARALLEL_SIN:
        scale = max(length, 1e-12)
        return bx / scale, by / scale
    return normal[at, 0], normal[at, 1]


@njit(cache=True)
def _along(ring: np.ndarray, i: int, origin: np.ndarray, line: int, dx: float, dy: float) -> float:
    """(ring[i] - origin[line]) . (dx, dy)."""
    return (ring[i, 0] - origin[line, 0]) * dx + (ring[i, 1] - origin[line, 1]) * dy


@njit(cache=True)
def _span_maxima(ring: np.ndarray, anchors: np.ndarray, normal: np.ndarray, span: np.ndarray,
                 anext: np.ndarray, aprev: np.ndarray) -> np.ndarray:
    """``(k, 5)``: per span of points (the points an anchor's edge replaced), the farthest reach of
    its points past its own edge line, past the next edge's, past the previous edge's, along its
    anchor's bisector and along the next anchor's bisector."""
    k = len(anchors)
    out = np.full((k, 5), -np.inf)
    bis = np.empty((k, 2))
    for j in range(k):
        bis[j, 0], bis[j, 1] = _bisector(normal, aprev[j], j)
    for i in range(len(ring)):
        s = span[i]
        nxt, prv = anext[s], aprev[s]
        reach = (_along(ring, i, anchors, s, normal[s, 0], normal[s, 1]),
                 _along(ring, i, anchors, nxt, normal[nxt, 0], normal[nxt, 1]),
                 _along(ring, i, anchors, prv, normal[prv, 0], normal[prv, 1]),
                 _along(ring, i, anchors, s, bis[s, 0], bis[s, 1]),
                 _along(ring, i, anchors, nxt, bis[nxt, 0], bis[nxt, 1]))
        for c in range(5):
            if reach[c] > out[s, c]:
                out[s, c] = reach[c]
    return out


@njit(cache=True)
def _cross(u: np.ndarray, a: int, b: int) -> float:
    """u[a] x u[b]."""
    return u[a, 0] * u[b, 1] - u[a, 1] * u[b, 0]


@njit(cache=True)
def _meet(n1x: float, n1y: float, c1: float, n2x: float, n2y: float, c2: float) -> tuple[float, float]:
    """The point x with n1.x = c1 and n2.x = c2 (Cramer's rule)."""
    det = n1x * n2y - n1y * n2x
    if abs(det) < 1e-12:
        det = 1e-12
    return (c1 * n2y - c2 * n1y) / det, (n1x * c2 - n2x * c1) / det


@njit(cache=True)
def offset_outline(ring: np.ndarray, anchors: np.ndarray, u: np.ndarray, normal: np.ndarray, span: np.ndarray,
                   anext: np.ndarray, aprev: np.ndarray, tol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each kept edge (anchor j to ``anext[j]``, direction ``u``, outward ``normal``) pushed outward
    past every point it replaced (``span``: each ring point's anchor), and at convex corners past its
    neighbours' points too (there the outline is the intersection of both half-planes); consecutive
    offset lines joined by miters, bevelled when long (over ``TOL.bevel_ratio`` (tol + offset) + 1) or
    near-parallel, a convex bevel placed along the bisector past both spans' points. Returns the
    corner points and the anchor each belongs to (one or two per anchor, in order)."""
    k = len(anchors)
    far = _span_maxima(ring, anchors, normal, span, anext, aprev)
    offset = np.empty(k)
    for j in range(k):
        value = max(far[j, 0], 0.0)
        if _cross(u, aprev[j], j) > 0:  # convex corner at anchor j: the previous span against line j
            value = max(value, far[aprev[j], 1])
        if _cross(u, j, anext[j]) > 0:  # convex corner at anchor j + 1: the next span against line j
            value = max(value, far[anext[j], 2])
        offset[j] = value
    points = np.empty((2 * k, 2))
    source = np.empty(2 * k, dtype=np.int64)
    count = 0
    for j in range(k):
        p = aprev[j]
        ax = anchors[j, 0] + offset[p] * normal[p, 0]  # on the previous offset line
        ay = anchors[j, 1] + offset[p] * normal[p, 1]
        bx = anchors[j, 0] + offset[j] * normal[j, 0]  # on this edge's offset line
        by = anchors[j, 1] + offset[j] * normal[j, 1]
        sin = _cross(u, p, j)
        safe = 1.0 if abs(sin) < PARALLEL_SIN else sin
        t = ((bx - ax) * u[j, 1] - (by - ay) * u[j, 0]) / safe
        mx, my = ax + t * u[p, 0], ay + t * u[p, 1]
        dx, dy = mx - anchors[j, 0], my - anchors[j, 1]
        limit = BEVEL_RATIO * (tol[j] + max(offset[j], offset[p])) + 1.0
        if not (abs(sin) < PARALLEL_SIN or math.sqrt(dx * dx + dy * dy) > limit):
            points[count, 0], points[count, 1] = mx, my
            source[count] = j
            count += 1
            continue
        if sin > PARALLEL_SIN:  # convex: both ends on the bevel line across the bisector
            cx, cy = _bisector(normal, p, j)
            ob = anchors[j, 0] * cx + anchors[j, 1] * cy + max(max(far[j, 3], far[p, 4]), 0.0)
            ax, ay = _meet(normal[p, 0], normal[p, 1], ax * normal[p, 0] + ay * normal[p, 1], cx, cy, ob)
            bx, by = _meet(normal[j, 0], normal[j, 1], bx * normal[j, 0] + by * normal[j, 1], cx, cy, ob)
        points[count, 0], points[count, 1] = ax, ay
        points[count + 1, 0], points[count + 1, 1] = bx, by
        source[count] = source[count + 1] = j
        count += 2
    return points[:count], source[:count]


@njit(cache=True)
def clip_to_box(points: np.ndarray, owner: np.ndarray, count: int, width: float,
                height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sutherland-Hodgman clip of every ring (points grouped by ring in ``owner``) to
    [0, width] x [0, height], one box side after the other: a crossing point lies exactly on the
    side, so each ring stays a superset of its part in the box. Returns the points, their rings and
    the input point each comes from (a crossing: its edge's start)."""
    source = np.arange(len(points))
    for side in range(4):
        axis, bound, below = side // 2, (0.0, width, 0.0, height)[side], side % 2 == 1
        if not len(points):
            break
        inside = (points[:, axis] <= bound) if below else (points[:, axis] >= bound)
        if inside.all():
            continue
        starts = ring_starts(owner, count)
        out = np.empty((2 * len(points), 2))
        out_owner = np.empty(2 * len(points), dtype=np.int64)
        out_source = np.empty(2 * len(points), dtype=np.int64)
        m = 0
        for r in range(count):
            for i in range(starts[r], starts[r + 1]):
                nxt = i + 1 if i + 1 < starts[r + 1] else starts[r]
                if inside[i]:
                    out[m, 0], out[m, 1] = points[i, 0], points[i, 1]
                    out_owner[m], out_source[m] = r, source[i]
                    m += 1
                if inside[i] != inside[nxt]:
                    here, there = points[i, axis] - bound, points[nxt, axis] - bound
                    t = here / (here - there)
                    out[m, 0] = points[i, 0] + t * (points[nxt, 0] - points[i, 0])
                    out[m, 1] = points[i, 1] + t * (points[nxt, 1] - points[i, 1])
                    out[m, axis] = bound  # exactly on the box: float noise would cut the border pixels
                    out_owner[m], out_source[m] = r, source[i]
                    m += 1
        points, owner, source = out[:m], out_owner[:m], out_source[:m]
    return points, owner, source


@njit(cache=True)
def drop_repeats(points: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
    """Sorted indices of the points kept when every ring (points grouped by ring in ``owner``)
    drops its points within ``TOL.geom_eps`` of the previous one, then, among those left, the
    points collinear with their neighbours (each test against the ring as it was before it)."""
    starts = ring_starts(owner, count)
    first = np.empty(len(points), dtype=np.int64)
    m = 0
    for r in range(count):
        a, b = starts[r], starts[r + 1]
        for i in range(a, b):
            prv = i - 1 if i > a else b - 1
            dx, dy = points[i, 0] - points[prv, 0], points[i, 1] - points[prv, 1]
            if math.sqrt(dx * dx + dy * dy) > GEOM_EPS:
                first[m] = i
                m += 1
    kept = np.empty(m, dtype=np.int64)
    n = 0
    lo = 0
    for r in range(count):
        hi = lo
        while hi < m and owner[first[hi]] == r:
            hi += 1
        for j in range(lo, hi):
            i = first[j]
            p = first[j - 1] if j > lo else first[hi - 1]
            q = first[j + 1] if j + 1 < hi else first[lo]
            cross = (points[i, 0] - points[p, 0]) * (points[q, 1] - points[p, 1]) - \
                (points[i, 1] - points[p, 1]) * (points[q, 0] - points[p, 0])
            if abs(cross) > GEOM_EPS:
                kept[n] = i
                n += 1
        lo = hi
    return kept[:n]


@njit(cache=True)
def _norm(x: float, y: float) -> float:
    """The length of (x, y), as ``np.linalg.norm`` of a row computes it."""
    return math.sqrt(x * x + y * y)


@njit(cache=True)
def _tidy_pass(p: np.ndarray, tol: np.ndarray, width: float, height: float) -> np.ndarray:
    """One ``tidy`` pass over one ring: moves the bevelled points to their miters in ``p`` and
    returns which points to drop. Every test reads the ring as the pass found it."""
    n = len(p)
    notch = np.zeros(n, dtype=np.bool_)
    turn = np.empty(n)
    l_in = np.empty(n)
    l_out = np.empty(n)
    for i in range(n):
        a, c = p[i - 1 if i else n - 1], p[i + 1 if i + 1 < n else 0]
        dix, diy = p[i, 0] - a[0], p[i, 1] - a[1]
        dox, doy = c[0] - p[i, 0], c[1] - p[i, 1]
        l_in[i], l_out[i] = _norm(dix, diy), _norm(dox, doy)
        turn[i] = dix * doy - diy * dox  # > 0: convex corner of the solid
        chord = max(_norm(c[0] - a[0], c[1] - a[1]), 1e-12)
        sin_turn = turn[i] / max(l_in[i] * l_out[i], 1e-12)
        short = min(l_in[i], l_out[i]) < TIDY_SHORT * max(l_in[i], l_out[i])
        dent = chord <= TIDY_CHORD * tol[i]
        notch[i] = n > 3 and turn[i] < 0 and -turn[i] / chord <= tol[i] and (-sin_turn < TIDY_SIN or short or dent)
    lone = notch.copy()
    for i in range(n):  # never two neighbours in one pass
        lone[i] = notch[i] and not notch[i - 1 if i else n - 1]
    notch = lone
    bevel = np.zeros(n, dtype=np.bool_)
    miter = np.empty((n, 2))
    for i in range(n):  # short segment p -> next between convex corners: meet the previous and following lines
        j, k = (i + 1) % n, (i + 2) % n
        dfx, dfy = p[k, 0] - p[j, 0], p[k, 1] - p[j, 1]
        if not (n > 3 and turn[i] > 0 and turn[j] > 0 and not notch[i] and not notch[j]
                and l_out[i] < TIDY_SHORT * min(l_in[i], _norm(dfx, dfy))):
            continue
        h = i - 1 if i else n - 1
        dix, diy = p[i, 0] - p[h, 0], p[i, 1] - p[h, 1]
        denom = dix * dfy - diy * dfx
        safe = denom if abs(denom) > 1e-12 else 1.0
        ex, ey = p[j, 0] - p[i, 0], p[j, 1] - p[i, 1]
        t = (ex * dfy - ey * dfx) / safe  # along d_in from p
        s = (ex * diy - ey * dix) / safe  # along d_far from the next point
        mx, my = p[i, 0] + t * dix, p[i, 1] + t * diy
        rx, ry = mx - p[i, 0], my - p[i, 1]
        away = abs(rx * ey - ry * ex) / max(l_out[i], 1e-12)
        bevel[i] = abs(denom) > 1e-12 and t >= 0 and s <= 0 and away <= tol[i] and \
            0 <= mx <= width and 0 <= my <= height
        miter[i, 0], miter[i, 1] = mx, my
    drop = notch.copy()
    for i in range(n):
        h, k = i - 1 if i else n - 1, (i + 2) % n
        if bevel[i] and not bevel[h] and not notch[k] and not notch[h]:
            p[i, 0], p[i, 1] = miter[i, 0], miter[i, 1]
            drop[(i + 1) % n] = True
    return drop


@njit(cache=True)
def tidy(points: np.ndarray, owner: np.ndarray, count: int, tol: np.ndarray, width: float,
         height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Remove the near-degenerate features the offset joins and the image-box clip leave, which force
    slivers when outline segments may not be split, from every ring (points grouped by ring in
    ``owner``, each with its own tolerance in ``tol``): a reflex (notch) vertex no deeper than its
    tolerance that is nearly collinear, sits next to a much shorter segment, or spans a chord of at
    most ``TOL.tidy_notch_chord`` tolerances (a dent Douglas-Peucker would have smoothed) is dropped
    (its chord only adds solid area), and a short segment between two convex corners is replaced by
    the miter of its neighbours when that point is inside the image and within the tolerance. Both
    only move the outline outward, so the caller's coverage and crossing checks still decide.
    ``TOL.tidy_passes`` passes, a ring's stopping at the first that drops nothing. Returns the
    points, rings and tolerances kept, and whether any point moved or went."""
    starts = ring_starts(owner, count)
    out = np.empty_like(points)
    out_owner = np.empty_like(owner)
    out_tol = np.empty_like(tol)
    m = 0
    changed = False
    for r in range(count):
        p = points[starts[r]:starts[r + 1]].copy()
        t = tol[starts[r]:starts[r + 1]].copy()
        for _ in range(TIDY_PASSES):
            if not len(p):
                break
            drop = _tidy_pass(p, t, width, height)
            if not drop.any():
                break
            changed = True
            p, t = p[~drop], t[~drop]
        out[m:m + len(p)] = p
        out_owner[m:m + len(p)] = r
        out_tol[m:m + len(p)] = t
        m += len(p)
    return out[:m], out_owner[:m], out_tol[:m], changed


@njit(cache=True)
def offset_rings(points: np.ndarray, offsets: np.ndarray, kept: np.ndarray, kept_tol: np.ndarray, width: float,
                 height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The whole outward pass over every ring (ring r: ``points[offsets[r]:offsets[r + 1]]``; its
    anchors: the sorted indices ``kept`` into ``points`` that fall in it, each with its tolerance in
    ``kept_tol``): each ring from its first anchor, ``offset_outline``, ``clip_to_box``,
    ``drop_repeats``, ``tidy``, and when tidy changed any ring, ``drop_repeats`` again over all.
    Returns the points, each ring's point count, whether each ring is a candidate (3+ anchors and
    points, no zero-length edge) and each ring's signed area."""
    count = len(offsets) - 1
    pieces = [np.empty((0, 2)) for _ in range(count)]  # each ring's points before tidying (none: not a candidate)
    piece_tols = [np.empty(0) for _ in range(count)]
    alive = np.zeros(count, dtype=np.bool_)
    k = 0
    for r in range(count):
        lo, size = offsets[r], offsets[r + 1] - offsets[r]
        start = k
        while k < len(kept) and kept[k] < offsets[r + 1]:
            k += 1
        if k - start < 3:
            continue
        first = kept[start] - lo
        ring = np.empty((size, 2))
        for j in range(size):  # the ring from its first anchor
            at = lo + (j + first) % size
            ring[j, 0], ring[j, 1] = points[at, 0], points[at, 1]
        m = k - start
        keep = kept[start:k] - lo - first
        anchors = ring[keep]
        anext, aprev = np.roll(np.arange(m), -1), np.roll(np.arange(m), 1)
        u = np.empty((m, 2))
        normal = np.empty((m, 2))
        degenerate = False
        for j in range(m):
            dx, dy = anchors[anext[j], 0] - anchors[j, 0], anchors[anext[j], 1] - anchors[j, 1]
            length = math.sqrt(dx * dx + dy * dy)
            degenerate |= length <= 0
            scale = length if length > 0 else 1.0
            u[j, 0], u[j, 1] = dx / scale, dy / scale
            normal[j, 0], normal[j, 1] = u[j, 1], -u[j, 0]  # right side = away from the solid
        span = np.searchsorted(keep, np.arange(size), side="right") - 1
        tol = kept_tol[start:k]
        joined, source = offset_outline(ring, anchors, u, normal, span, anext, aprev, tol)
        clipped, _, clip_source = clip_to_box(joined, np.zeros(len(joined), dtype=np.int64), 1, width, height)
        left = drop_repeats(clipped, np.zeros(len(clipped), dtype=np.int64), 1)
        pieces[r] = clipped[left]
        piece_tols[r] = tol[source[clip_source[left]]]
        alive[r] = not degenerate
    # tidy every ring, then, when it changed any, drop what it left repeated or collinear in all
    flat_count = 0
    for piece in pieces:
        flat_count += len(piece)
    flat = np.empty((flat_count, 2))
    flat_tol = np.empty(flat_count)
    owner = np.empty(flat_count, dtype=np.int64)
    at = 0
    for r in range(count):
        piece, piece_tol = pieces[r], piece_tols[r]
        flat[at:at + len(piece)] = piece
        flat_tol[at:at + len(piece)] = piece_tol
        owner[at:at + len(piece)] = r
        at += len(piece)
    tidied, tidied_owner, _, changed = tidy(flat, owner, count, flat_tol, width, height)
    if changed:
        left = drop_repeats(tidied, tidied_owner, count)
        tidied, tidied_owner = tidied[left], tidied_owner[left]
    sizes = np.zeros(count, dtype=np.int64)
    areas = np.zeros(count)
    starts = ring_starts(tidied_owner, count)
    for r in range(count):
        a, b = starts[r], starts[r + 1]
        sizes[r] = b - a
        for i in range(a, b):
            j = i + 1 if i + 1 < b else a
            areas[r] += tidied[i, 0] * tidied[j, 1] - tidied[j, 0] * tidied[i, 1]
        areas[r] *= 0.5
        alive[r] &= b - a >= 3
    return tidied, sizes, alive, areas


@njit(cache=True)
def _dp_closed(p: np.ndarray, lo: int, count: int, eps: float, out: np.ndarray, stack: np.ndarray) -> int:
    """Douglas-Peucker on the closed ring ``p[lo:lo + count]`` (float32) as OpenCV's approxPolyDP
    runs it: three passes to find two far-apart points, the split stack, then one pass dropping
    kept points on (nearly) straight runs. Writes the kept points' indices (ring-relative, in
    its output order) to ``out`` and returns how many. The arithmetic keeps OpenCV's types:
    float32 coordinate differences, float32 squared lengths where it has them, double the rest."""
    if count == 0:
        return 0
    eps2 = eps * eps
    far = 0
    pos = 0
    start = 0
    le_eps = False
    for _ in range(3):  # 1. about the two farthest points
        best = 0.0
        pos = (pos + far) % count
        start = pos
        pos = (pos + 1) % count
        for j in range(1, count):
            dx = np.float64(p[lo + pos, 0] - p[lo + start, 0])
            dy = np.float64(p[lo + pos, 1] - p[lo + start, 1])
            pos = (pos + 1) % count
            dist = dx * dx + dy * dy
            if dist > best:
                best = dist
                far = j
        le_eps = best <= eps2
    n = 0
    top = 0
    if le_eps:
        out[n] = start
        n += 1
    else:  # 2. the stack: [far, pos) under [pos, far)
        head = pos % count
        far = (far + head) % count
        stack[top, 0], stack[top, 1] = far, head
        stack[top + 1, 0], stack[top + 1, 1] = head, far
        top += 2
    while top > 0:  # 3. split each slice at its farthest point until all are within eps
        top -= 1
        first, last = stack[top, 0], stack[top, 1]
        ex, ey = p[lo + last, 0], p[lo + last, 1]
        sx, sy = p[lo + first, 0], p[lo + first, 1]
        pos = (first + 1) % count
        within = True
        if pos != last:
            dx, dy = np.float64(ex - sx), np.float64(ey - sy)
            length2 = dx * dx + dy * dy
            best = 0.0
            while pos != last:
                px, py = p[lo + pos, 0], p[lo + pos, 1]
                pos = (pos + 1) % count
                rx, ry = px - sx, py - sy  # float32
                projection = rx * dx + ry * dy
                if projection < 0:
                    d = np.float64(rx * rx + ry * ry) * length2
                elif projection > length2:
                    qx, qy = px - ex, py - ey
                    d = np.float64(qx * qx + qy * qy) * length2
                else:
                    cross = ry * dx - rx * dy
                    d = cross * cross
                if d > best:
                    best = d
                    far = (pos + count - 1) % count
            within = best <= eps2 * length2
        if within:
            out[n] = first
            n += 1
        else:
            stack[top, 0], stack[top, 1] = far, last
            stack[top + 1, 0], stack[top + 1, 1] = first, far
            top += 2
    total = n  # 4. drop kept points on straight runs (the list is rewritten as it is read)
    pos = total - 1
    a = out[pos]
    pos = (pos + 1) % total
    write = pos
    b = out[pos]
    pos = (pos + 1) % total
    i = 0
    while i < total and n > 2:
        c = out[pos]
        pos = (pos + 1) % total
        ax, ay = p[lo + a, 0], p[lo + a, 1]
        bx, by = p[lo + b, 0], p[lo + b, 1]
        cx, cy = p[lo + c, 0], p[lo + c, 1]
        dx, dy = np.float64(cx - ax), np.float64(cy - ay)
        dist = abs((bx - ax) * dy - (by - ay) * dx)
        inner = np.float64((bx - ax) * (cx - bx) + (by - ay) * (cy - by))
        if dist * dist <= 0.5 * eps2 * (dx * dx + dy * dy) and dx != 0 and dy != 0 and inner >= 0:
            n -= 1
            out[write] = c
            a = c
            write = (write + 1) % total
            b = out[pos]
            pos = (pos + 1) % total
            i += 2
            continue
        out[write] = b
        a = b
        write = (write + 1) % total
        b = c
        i += 1
    return n


@njit(cache=True)
def dp_anchors(points: np.ndarray, offsets: np.ndarray, tols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points Douglas-Peucker keeps on each closed ring (ring r: ``points[offsets[r]:offsets[r + 1]]``,
    ``(n, 2) float32``, tolerance ``tols[r]``), as ``cv2.approxPolyDP(ring, tol, True)`` keeps them:
    their sorted indices into ``points``, ring after ring, and each ring's count."""
    count = len(offsets) - 1
    longest = 0
    for r in range(count):
        longest = max(longest, offsets[r + 1] - offsets[r])
    scratch = np.empty(longest, dtype=np.int64)
    stack = np.empty((longest + 2, 2), dtype=np.int64)
    kept = np.empty(offsets[count], dtype=np.int64)
    counts = np.zeros(count, dtype=np.int64)
    at = 0
    for r in range(count):
        lo = offsets[r]
        n = _dp_closed(points, lo, offsets[r + 1] - lo, tols[r], scratch, stack)
        found = np.sort(scratch[:n])
        kept[at:at + n] = found + lo
        counts[r] = n
        at += n
    return kept[:at], counts


@njit(cache=True)
def near_segments(points: np.ndarray, reach: np.ndarray, order: np.ndarray, first: np.ndarray, last: np.ndarray,
                  a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n,) bool``: whether each point lies within its ``reach`` of one of the segments a-b it is
    paired with: segment s with the points ``order[first[s]:last[s]]``."""
    near = np.zeros(len(points), dtype=np.bool_)
    for s in range(len(a)):
        dx, dy = b[s, 0] - a[s, 0], b[s, 1] - a[s, 1]
        length2 = max(dx * dx + dy * dy, 1e-12)
        for k in range(first[s], last[s]):
            p = order[k]
            rx, ry = points[p, 0] - a[s, 0], points[p, 1] - a[s, 1]
            t = min(max((rx * dx + ry * dy) / length2, 0.0), 1.0)
            if math.hypot(rx - t * dx, ry - t * dy) <= reach[p]:
                near[p] = True
    return near


# ---------------------------------------------------------------- merging short segments (contour_tidy)


@njit(cache=True)
def short_merges(points: np.ndarray, nxt: np.ndarray, prv: np.ndarray, ring: np.ndarray, ring_size: np.ndarray,
                 reach: np.ndarray, width: float, height: float, ratio: float,
                 cos_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``contour_tidy._merged_short``'s candidates: each point B whose segment B -> C is under
    ``ratio`` of both neighbours (on a ring of at least 4 points), the way to merge it that adds the
    least area (0: drop C, 1: drop B, 2: move B to X, where the corner's cosine is at most
    ``cos_max``), that X, and the area added (inf when no way serves, or each moves the outline
    farther than its ring's ``reach``)."""
    n = len(points)
    picked = np.empty(n, dtype=np.int64)
    way = np.empty(n, dtype=np.int64)
    x = np.empty((n, 2))
    added = np.empty(n)
    k = 0
    for b in range(n):
        a, c = prv[b], nxt[b]
        d = nxt[c]
        abx, aby = points[b, 0] - points[a, 0], points[b, 1] - points[a, 1]
        bcx, bcy = points[c, 0] - points[b, 0], points[c, 1] - points[b, 1]
        cdx, cdy = points[d, 0] - points[c, 0], points[d, 1] - points[c, 1]
        if not (ring_size[ring[b]] >= 4 and np.hypot(bcx, bcy) < ratio * min(
                np.hypot(abx, aby), np.hypot(cdx, cdy))):
            continue
        turn_b, turn_c = abx * bcy - aby * bcx, bcx * cdy - bcy * cdx
        # X, where A -> B and D -> C extended meet: it serves past both ends, inside the image, with cos <= cos_max
        denom = abx * cdy - aby * cdx
        safe = denom if abs(denom) > GEOM_EPS else 1.0
        dax, day = points[d, 0] - points[a, 0], points[d, 1] - points[a, 1]
        t = (dax * cdy - day * cdx) / safe
        u = (abx * day - aby * dax) / safe
        xx, xy = points[a, 0] + t * abx, points[a, 1] + t * aby
        tax, tay, tdx, tdy = points[a, 0] - xx, points[a, 1] - xy, points[d, 0] - xx, points[d, 1] - xy
        cos = (tax * tdx + tay * tdy) / max(np.hypot(tax, tay) * np.hypot(tdx, tdy), GEOM_EPS)
        serves = (turn_b > 0 and turn_c > 0 and abs(denom) > GEOM_EPS and t >= 1 and u >= 1 and cos <= cos_max
                  and 0 <= xx <= width and 0 <= xy <= height)
        gains = (-0.5 * turn_c if turn_c < 0 else np.inf,
                 -0.5 * turn_b if turn_b < 0 else np.inf,
                 0.5 * abs((xx - points[b, 0]) * bcy - (xy - points[b, 1]) * bcx) if serves else np.inf)
        chords = (np.hypot(points[d, 0] - points[b, 0], points[d, 1] - points[b, 1]),
                  np.hypot(points[c, 0] - points[a, 0], points[c, 1] - points[a, 1]), np.hypot(bcx, bcy))
        best, least = 0, np.inf
        for w in range(3):
            gain = gains[w]
            if 2 * gain / max(chords[w], GEOM_EPS) > reach[ring[b]]:
                gain = np.inf
            if w == 0 or gain < least:
                best, least = w, gain
        picked[k], way[k], x[k, 0], x[k, 1], added[k] = b, best, xx, xy, least
        k += 1
    return picked[:k], way[:k], x[:k], added[:k]


# ---------------------------------------------------------------- pixel and crossing checks (contour_geometry)


@njit(cache=True)
def cutting_edges(a: np.ndarray, b: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """Sorted indices of the edges a-b through the open interior of a solid pixel, or along a
    pixel border (within ``TOL.geom_eps``) with solid pixels on both sides somewhere along it."""
    height, width = solid.shape
    eps = GEOM_EPS
    cut = np.zeros(len(a), dtype=np.bool_)
    for e in range(len(a)):
        ax, ay, dx, dy = a[e, 0], a[e, 1], b[e, 0] - a[e, 0], b[e, 1] - a[e, 1]
        y0, y1 = min(a[e, 1], b[e, 1]), max(a[e, 1], b[e, 1])
        first = int(min(max(math.floor(y0 + eps), 0.0), height))  # not rows grazed by float noise
        last = int(min(max(math.ceil(y1 - eps), 0.0), height))
        slope = dx / (1.0 if dy == 0 else dy)
        for row in range(first, last):
            if dy == 0:
                xa, xb = ax, ax + dx
            else:
                xa = ax + (max(y0, float(row)) - ay) * slope
                xb = ax + (min(y1, float(row + 1)) - ay) * slope
            c0 = int(min(max(math.floor(min(xa, xb) + eps), 0.0), width))
            c1 = int(min(max(math.ceil(max(xa, xb) - eps), 0.0), width))
            for col in range(c0, c1):
                if solid[row, col]:
                    cut[e] = True
                    break
            if cut[e]:
                break
        if not cut[e]:
            cut[e] = _along_solid_border(a[e], b[e], solid)
    return np.flatnonzero(cut)


@njit(cache=True)
def _along_solid_border(a: np.ndarray, b: np.ndarray, solid: np.ndarray) -> bool:
    """Whether the edge a-b lies along a pixel border with solid pixels on both sides somewhere
    along it (the pixel runs of ``cutting_edges`` count such an edge as touching none)."""
    eps = 2 * GEOM_EPS
    for axis in range(2):  # x borders (a column line), then y borders (a row line)
        line = np.rint(a[axis])
        across_size = solid.shape[1] if axis == 0 else solid.shape[0]
        along_size = solid.shape[0] if axis == 0 else solid.shape[1]
        if not (abs(a[axis] - line) <= eps and abs(b[axis] - line) <= eps and 1 <= line <= across_size - 1):
            continue
        lo, hi = min(a[1 - axis], b[1 - axis]), max(a[1 - axis], b[1 - axis])
        first = int(min(max(math.floor(lo + GEOM_EPS), 0.0), along_size))
        last = int(min(max(math.ceil(hi - GEOM_EPS), 0.0), along_size))
        across = int(line)
        for along in range(first, last):
            if axis == 0:
                both = solid[along, across - 1] and solid[along, across]
            else:
                both = solid[across - 1, along] and solid[across, along]
            if both:
                return True
    return False


@njit(cache=True)
def _touch(px: float, py: float, p2x: float, p2y: float, qx: float, qy: float, q2x: float, q2y: float) -> bool:
    """Segment p-p2 crosses or touches segment q-q2 (within ``TOL.geom_eps``)."""
    eps = GEOM_EPS
    rx, ry, vx, vy = p2x - px, p2y - py, q2x - qx, q2y - qy
    d1 = rx * (qy - py) - ry * (qx - px)
    d2 = rx * (q2y - py) - ry * (q2x - px)
    d3 = vx * (py - qy) - vy * (px - qx)
    d4 = vx * (p2y - qy) - vy * (p2x - qx)
    if ((d1 > eps and d2 < -eps) or (d1 < -eps and d2 > eps)) and \
            ((d3 > eps and d4 < -eps) or (d3 < -eps and d4 > eps)):
        return True
    return (_on(qx, qy, px, py, rx, ry, d1) or _on(q2x, q2y, px, py, rx, ry, d2) or
            _on(px, py, qx, qy, vx, vy, d3) or _on(p2x, p2y, qx, qy, vx, vy, d4))


@njit(cache=True)
def _on(x: float, y: float, sx: float, sy: float, dx: float, dy: float, side: float) -> bool:
    """Point (x, y) lies on the segment from (sx, sy) along (dx, dy), given its cross product ``side``."""
    length2 = dx * dx + dy * dy
    dot = (x - sx) * dx + (y - sy) * dy
    return abs(side) <= GEOM_EPS * math.sqrt(length2) and dot >= -GEOM_EPS and dot <= length2 + GEOM_EPS


@njit(cache=True)
def crossing_edges(a: np.ndarray, b: np.ndarray, owner: np.ndarray, local: np.ndarray, sizes: np.ndarray,
                   key_lo: np.ndarray, key_hi: np.ndarray) -> np.ndarray:
    """Sorted indices of the edges a-b (``owner``: each one's ring, ``local``: its index there, ``sizes``:
    each ring's edge count) that touch or cross another ring's edge or a non-adjacent one of their
    own ring. A sweep over the edges sorted by ``key_lo`` (their widened x ranges, or those shifted
    per group of rings: ``contour_geometry.crossing_faults``): each pair whose key ranges and widened
    y ranges meet is tested once."""
    n = len(a)
    eps = GEOM_EPS
    lo_y, hi_y = np.empty(n), np.empty(n)
    for e in range(n):
        lo_y[e], hi_y[e] = min(a[e, 1], b[e, 1]) - eps, max(a[e, 1], b[e, 1]) + eps
    order = np.argsort(key_lo, kind="mergesort")
    hit = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        i = order[k]
        for m in range(k + 1, n):
            j = order[m]
            if key_lo[j] > key_hi[i]:
                break
            if lo_y[j] > hi_y[i] or lo_y[i] > hi_y[j]:
                continue
            if owner[i] == owner[j]:
                step = abs(local[i] - local[j])
                if step == 1 or step == sizes[owner[i]] - 1:
                    continue
            if _touch(a[i, 0], a[i, 1], b[i, 0], b[i, 1], a[j, 0], a[j, 1], b[j, 0], b[j, 1]):
                hit[i] = hit[j] = True
    return np.flatnonzero(hit)


@njit(cache=True)
def _rows_crossed(ay: float, by: float, height: int) -> tuple[int, int]:
    """[first, last): the pixel-centre rows an edge from y = ay to y = by crosses, within [0, height)."""
    first = int(min(max(math.ceil(min(ay, by) - 0.5), 0.0), height))
    return first, int(min(max(math.ceil(max(ay, by) - 0.5), 0.0), height))


@njit(cache=True)
def winding_numbers(a: np.ndarray, b: np.ndarray, points: np.ndarray, width: int) -> np.ndarray:
    """``(k,) int`` winding number of the closed edges a-b at each point (x, y), y at a pixel centre
    row: each edge's signed crossings of the points' rows (at the column ``ceil(x - 0.5)``, clipped
    to [0, width]), sorted per row, summed for each point over those at or left of ``floor(x)``."""
    wind = np.zeros(len(points), dtype=np.int64)
    if not len(points):
        return wind
    rows_at = (points[:, 1] - 0.5).astype(np.int64)
    height = rows_at.max() + 1
    wanted = np.zeros(height, dtype=np.bool_)
    wanted[rows_at] = True
    count = np.zeros(height + 1, dtype=np.int64)  # each row's crossings (rows with points only), then their starts
    for e in range(len(a)):
        first, last = _rows_crossed(a[e, 1], b[e, 1], height)
        for row in range(first, last):
            count[row + 1] += wanted[row]
    for r in range(height):
        count[r + 1] += count[r]
    cols = np.empty(count[height])
    signs = np.empty(count[height], dtype=np.int64)
    fill = count[:-1].copy()
    for e in range(len(a)):
        ay, by = a[e, 1], b[e, 1]
        first, last = _rows_crossed(ay, by, height)
        for row in range(first, last):
            if wanted[row]:
                x = a[e, 0] + (row + 0.5 - ay) / (by - ay) * (b[e, 0] - a[e, 0])
                cols[fill[row]] = min(max(math.ceil(x - 0.5), 0.0), width)
                signs[fill[row]] = -1 if by > ay else 1
                fill[row] += 1
    total = np.zeros(len(cols) + height, dtype=np.int64)  # per row: 0, then running sums by column
    for r in range(height):
        lo, hi = count[r], count[r + 1]
        if hi > lo:
            by_col = np.argsort(cols[lo:hi], kind="mergesort") + lo
            cols[lo:hi] = cols[by_col]
            run = 0
            for k in range(hi - lo):
                run += signs[by_col[k]]
                total[lo + r + k + 1] = run
    for p in range(len(points)):
        r = rows_at[p]
        lo, hi = count[r], count[r + 1]
        at = np.searchsorted(cols[lo:hi], math.floor(points[p, 0]), side="right")
        wind[p] = total[lo + r + at]
    return wind


@njit(cache=True)
def strided_coverage(a: np.ndarray, b: np.ndarray, alpha: np.ndarray, opaque_at: int, first: int,
                     stride: int) -> tuple[int, int, int, int]:
    """Counts over the grid of pixels ``alpha[first + i * stride, first + j * stride]`` (grid cell
    (i, j) is the unit square at (j, i)) of the closed edges a-b in grid units, even-odd rule at
    cell centres, as ``contour_metrics.rasterize_loops`` scans them (scale 1): (opaque cells
    inside, opaque cells, cells inside, cells inside with alpha 0). Row by row from the edges'
    crossings, without the grid."""
    rows = (alpha.shape[0] - first + stride - 1) // stride
    cols = (alpha.shape[1] - first + stride - 1) // stride
    lo = np.empty(len(a), dtype=np.int64)
    hi = np.empty(len(a), dtype=np.int64)
    per_row = np.zeros(rows + 1, dtype=np.int64)
    for e in range(len(a)):
        y0, y1 = min(a[e, 1], b[e, 1]), max(a[e, 1], b[e, 1])
        lo[e] = min(max(math.ceil(y0 - 0.5), 0), rows)
        hi[e] = min(max(math.ceil(y1 - 0.5), 0), rows)
        for r in range(lo[e], hi[e]):
            per_row[r + 1] += 1
    for r in range(rows):
        per_row[r + 1] += per_row[r]
    crossing = np.empty(per_row[rows], dtype=np.int64)
    filled = per_row[:rows].copy()
    for e in range(len(a)):
        for r in range(lo[e], hi[e]):
            t = (r + 0.5 - a[e, 1]) / (b[e, 1] - a[e, 1])
            x = a[e, 0] + t * (b[e, 0] - a[e, 0])
            crossing[filled[r]] = min(max(math.ceil(x - 0.5), 0), cols)
            filled[r] += 1
    covered = opaque = inside = wasted = 0
    for i in range(rows):
        line = alpha[first + i * stride]
        for j in range(cols):
            opaque += line[first + j * stride] >= opaque_at
        cuts = np.sort(crossing[per_row[i]:per_row[i + 1]])
        for k in range(0, len(cuts), 2):  # cells from each odd crossing to the next (or the row's end) are inside
            for j in range(cuts[k], cuts[k + 1] if k + 1 < len(cuts) else cols):
                value = line[first + j * stride]
                inside += 1
                covered += value >= opaque_at
                wasted += value == 0
    return covered, opaque, inside, wasted


# ---------------------------------------------------------------- triangulation and refinement (contour_refine)


@njit(cache=True)
def hole_points(a: np.ndarray, b: np.ndarray, starts: np.ndarray, sizes: np.ndarray, holes: np.ndarray,
                boxes: np.ndarray) -> tuple[np.ndarray, bool]:
    """One point inside the empty region of each hole ring (``holes``: ring indices; ring r's segments
    a-b are ``starts[r]`` to ``starts[r] + sizes[r]``, its box ``boxes[r]``): from the middle of the
    hole's longest segment (the first among equals) a ray goes right of the walk, and the point is
    halfway to the first segment it meets among those whose ring's box and own box meet the hole's
    box. Returns the points and whether every ray met a segment."""
    out = np.empty((len(holes), 2))
    for k in range(len(holes)):
        h = holes[k]
        longest, longest_length = -1, -1.0
        for seg in range(starts[h], starts[h] + sizes[h]):
            length = math.hypot(b[seg, 0] - a[seg, 0], b[seg, 1] - a[seg, 1])
            if length > longest_length:
                longest, longest_length = seg, length
        ox, oy = (a[longest, 0] + b[longest, 0]) / 2, (a[longest, 1] + b[longest, 1]) / 2
        rx = (b[longest, 1] - a[longest, 1]) / longest_length  # right of the walk
        ry = -(b[longest, 0] - a[longest, 0]) / longest_length
        x0, y0, x1, y1 = boxes[h, 0], boxes[h, 1], boxes[h, 2], boxes[h, 3]
        first = np.inf
        for ring in range(len(starts)):
            if not (boxes[ring, 0] <= x1 and boxes[ring, 2] >= x0 and boxes[ring, 1] <= y1 and boxes[ring, 3] >= y0):
                continue
            for seg in range(starts[ring], starts[ring] + sizes[ring]):
                if seg == longest or not (min(a[seg, 0], b[seg, 0]) <= x1 and max(a[seg, 0], b[seg, 0]) >= x0 and
                                          min(a[seg, 1], b[seg, 1]) <= y1 and max(a[seg, 1], b[seg, 1]) >= y0):
                    continue
                first = min(first, _ray_hit(ox, oy, rx, ry, a[seg, 0], a[seg, 1], b[seg, 0], b[seg, 1]))
        if first == np.inf:
            return out, False
        out[k, 0], out[k, 1] = ox + rx * (first / 2), oy + ry * (first / 2)
    return out, True


@njit(cache=True)
def _angle_terms(p0x: float, p0y: float, p1x: float, p1y: float, p2x: float,
                 p2y: float) -> tuple[float, float]:
    """(twice the signed area, the largest of the three corners' -e_in . e_out) of triangle p0 p1 p2:
    its smallest angle is atan2(|area2|, that) (numpy takes the arctangent: its arctan2 and libm's
    differ in the last bit)."""
    e01x, e01y, e12x, e12y, e20x, e20y = p1x - p0x, p1y - p0y, p2x - p1x, p2y - p1y, p0x - p2x, p0y - p2y
    cross = e01x * e12y - e01y * e12x
    dots = max(max(-(e01x * e20x + e01y * e20y), -(e12x * e01x + e12y * e01y)), -(e20x * e12x + e20y * e12y))
    return cross, dots


@njit(cache=True)
def angle_terms(vertices: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_angle_terms`` of every triangle: (|twice the area|, dots), ``(t,)`` each."""
    area2, dots = np.empty(len(tris)), np.empty(len(tris))
    for t in range(len(tris)):
        a, b, c = tris[t, 0], tris[t, 1], tris[t, 2]
        cross, dots[t] = _angle_terms(vertices[a, 0], vertices[a, 1], vertices[b, 0], vertices[b, 1],
                                      vertices[c, 0], vertices[c, 1])
        area2[t] = abs(cross)
    return area2, dots


@njit(cache=True)
def _clearance(ox: float, oy: float, rx: float, ry: float, seg_a: np.ndarray, seg_b: np.ndarray, own: int,
               reach: float) -> float:
    """Distance along the unit ray (rx, ry) from (ox, oy) to the first segment a-b it meets other
    than segment ``own``, capped at ``2 * reach`` (segments whose box lies farther cannot lower it)."""
    out = 2 * reach + 0.0
    radius = 2 * reach
    for s in range(len(seg_a)):
        ax, ay, bx, by = seg_a[s, 0], seg_a[s, 1], seg_b[s, 0], seg_b[s, 1]
        if s == own or min(ax, bx) > ox + radius or max(ax, bx) < ox - radius or \
                min(ay, by) > oy + radius or max(ay, by) < oy - radius:
            continue
        out = min(out, _ray_hit(ox, oy, rx, ry, ax, ay, bx, by))
    return out


@njit(cache=True)
def ray_clearances(origins: np.ndarray, rays: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray,
                   reach: np.ndarray) -> np.ndarray:
    """``(k,)`` distance along each unit ray from its origin to the first outline segment a-b
    (rows of ``seg_a``, ``seg_b``) it meets, capped at twice its ``reach``."""
    out = np.empty(len(origins))
    for k in range(len(origins)):
        out[k] = _clearance(origins[k, 0], origins[k, 1], rays[k, 0], rays[k, 1], seg_a, seg_b, -1, reach[k])
    return out


@njit(cache=True)
def _ray_hit(ox: float, oy: float, rx: float, ry: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance along the unit ray (rx, ry) from (ox, oy) to where it meets segment a-b (its ends
    widened by ``GEOM_EPS`` of its length, the origin excluded); inf when it does not, or runs
    parallel to it."""
    ex, ey = bx - ax, by - ay
    relx, rely = ax - ox, ay - oy
    den = rx * ey - ry * ex
    if not abs(den) > 1e-12:
        return np.inf
    t = (relx * ey - rely * ex) / den
    u = (relx * ry - rely * rx) / den
    return t if t > GEOM_EPS and -GEOM_EPS <= u <= 1 + GEOM_EPS else np.inf


@njit(cache=True)
def apex_candidates(vertices: np.ndarray, tris: np.ndarray, seg: np.ndarray,
                    sqrt3_2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For the (bad, counter-clockwise) triangles ``tris``: each outline segment (row of ``seg``,
    directed, solid on its left) that is an edge of one, in segment order, as (midpoint, unit
    inward normal, length, clearance: the distance from the midpoint along the normal to the
    first other segment, capped at sqrt(3) times the length); and the circumcentres (and radii)
    of those with no segment edge whose centroid sees the centre within 1/1.25 of the way to the
    first segment (so it lies inside the outline)."""
    seg_a = np.empty((len(seg), 2))
    seg_b = np.empty((len(seg), 2))
    index = np.full(len(vertices), -1, dtype=np.int64)
    for s in range(len(seg)):
        seg_a[s, 0], seg_a[s, 1] = vertices[seg[s, 0], 0], vertices[seg[s, 0], 1]
        seg_b[s, 0], seg_b[s, 1] = vertices[seg[s, 1], 0], vertices[seg[s, 1], 1]
        index[seg[s, 0]] = s
    edge_of = np.zeros(len(seg), dtype=np.bool_)
    lone = np.zeros(len(tris), dtype=np.bool_)
    for t in range(len(tris)):
        alone = True
        for k in range(3):
            s = index[tris[t, k]]
            if s >= 0 and seg[s, 1] == tris[t, (k + 1) % 3]:
                edge_of[s] = True
                alone = False
        lone[t] = alone
    chosen = np.flatnonzero(edge_of)
    mid = np.empty((len(chosen), 2))
    inward = np.empty((len(chosen), 2))
    length = np.empty(len(chosen))
    clear = np.empty(len(chosen))
    for k in range(len(chosen)):
        s = chosen[k]
        dx, dy = seg_b[s, 0] - seg_a[s, 0], seg_b[s, 1] - seg_a[s, 1]
        length[k] = math.hypot(dx, dy)
        scale = max(length[k], 1e-12)
        inward[k, 0], inward[k, 1] = -dy / scale, dx / scale
        mid[k, 0], mid[k, 1] = (seg_a[s, 0] + seg_b[s, 0]) / 2, (seg_a[s, 1] + seg_b[s, 1]) / 2
        clear[k] = _clearance(mid[k, 0], mid[k, 1], inward[k, 0], inward[k, 1], seg_a, seg_b, s, sqrt3_2 * length[k])
    found = np.flatnonzero(lone)
    centres = np.empty((len(found), 2))
    radius = np.empty(len(found))
    m = 0
    for t in found:
        px, py = vertices[tris[t, 0], 0], vertices[tris[t, 0], 1]
        qx, qy = vertices[tris[t, 1], 0], vertices[tris[t, 1], 1]
        sx, sy = vertices[tris[t, 2], 0], vertices[tris[t, 2], 1]
        bx, by, cx, cy = qx - px, qy - py, sx - px, sy - py
        den = 2 * (bx * cy - by * cx)
        bb, cc = bx * bx + by * by, cx * cx + cy * cy
        centre_x, centre_y = px + (cy * bb - by * cc) / den, py + (bx * cc - cx * bb) / den
        way_x, way_y = centre_x - (px + qx + sx) / 3, centre_y - (py + qy + sy) / 3
        dist = max(math.hypot(way_x, way_y), 1e-12)
        if _clearance((px + qx + sx) / 3, (py + qy + sy) / 3, way_x / dist, way_y / dist, seg_a, seg_b, -1,
                      dist) > 1.25 * dist:
            centres[m, 0], centres[m, 1] = centre_x, centre_y
            radius[m] = math.hypot(centre_x - px, centre_y - py)
            m += 1
    return mid, inward, length, clear, centres[:m], radius[:m]


@njit(cache=True)
def spread_points(points: np.ndarray, height: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """The points, tallest first (stable), no closer than half their height to a vertex or to a
    point kept before them (two points are close within the smaller of their half heights)."""
    order = np.argsort(-height, kind="mergesort")
    keep = np.zeros(len(order), dtype=np.bool_)
    for k in range(len(order)):
        p = order[k]
        gap = np.inf
        for v in range(len(vertices)):
            dx, dy = points[p, 0] - vertices[v, 0], points[p, 1] - vertices[v, 1]
            gap = min(gap, math.sqrt(dx * dx + dy * dy))
        keep[k] = gap > height[p] / 2
    for i in range(len(order)):  # in order: a kept point drops the later ones close to it
        if not keep[i]:
            continue
        p = order[i]
        for j in range(i + 1, len(order)):
            q = order[j]
            if keep[j] and math.hypot(points[p, 0] - points[q, 0], points[p, 1] - points[q, 1]) <= \
                    min(height[p] / 2, height[q] / 2):
                keep[j] = False
    out = np.empty((np.count_nonzero(keep), 2))
    m = 0
    for k in range(len(order)):
        if keep[k]:
            out[m, 0], out[m, 1] = points[order[k], 0], points[order[k], 1]
            m += 1
    return out


@njit(cache=True)
def group_minima(group: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """``(count,)`` smallest value in each group (inf for an empty one): ``np.minimum.at`` without its cost."""
    out = np.full(count, np.inf)
    for i in range(len(group)):
        out[group[i]] = min(out[group[i]], values[i])
    return out


@njit(cache=True)
def island_tallies(tris: np.ndarray, tri_island: np.ndarray, angles: np.ndarray, count: int,
                   islands: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a mesh of ``count`` vertices whose triangles' islands are ``tri_island``: (the island of each
    vertex, 0 for one in no triangle; the smallest of ``angles`` in each island, inf for none; the
    vertices in each island), as a fancy assignment, ``group_minima`` and a bincount give them."""
    vertex_island = np.zeros(count, dtype=np.int64)
    smallest = np.full(islands, np.inf)
    for t in range(len(tris)):
        island = tri_island[t]
        smallest[island] = min(smallest[island], angles[t])
        for k in range(3):
            vertex_island[tris[t, k]] = island
    size = np.zeros(islands, dtype=np.int64)
    for v in range(count):
        size[vertex_island[v]] += 1
    return vertex_island, smallest, size


@njit(cache=True)
def _root(parent: np.ndarray, x: int) -> int:
    """The root of ``x`` in a union-find forest, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True)
def mesh_islands(tris: np.ndarray, outline_island: np.ndarray, count: int) -> np.ndarray:
    """``(count,) int``: the island of each vertex of a mesh whose first vertices are the outline's
    (``outline_island``: each one's island), 0 in a part with no outline vertex: union-find over
    the triangles (``graph_components.components`` and a lookup, without numpy's per-call cost)."""
    parent = np.arange(count)
    for t in range(len(tris)):
        a = _root(parent, tris[t, 0])
        for k in (1, 2):
            b = _root(parent, tris[t, k])
            if a != b:
                parent[max(a, b)] = min(a, b)
                a = min(a, b)
    island = np.zeros(count, dtype=np.int64)
    for v in range(len(outline_island)):
        island[_root(parent, v)] = outline_island[v]
    out = np.empty(count, dtype=np.int64)
    for v in range(count):
        out[v] = island[_root(parent, v)]
    return out


@njit(cache=True)
def refined_check(vertices: np.ndarray, tris: np.ndarray, fixed: int) -> tuple[float, bool]:
    """(smallest area of the triangles with a vertex at index >= ``fixed``, inf when none; whether
    every vertex is used), the area as ``contour_refine.triangle_areas`` computes it."""
    used = np.zeros(len(vertices), dtype=np.bool_)
    smallest = np.inf
    for t in range(len(tris)):
        i, j, k = tris[t, 0], tris[t, 1], tris[t, 2]
        used[i] = used[j] = used[k] = True
        if i >= fixed or j >= fixed or k >= fixed:
            ax, ay = vertices[i, 0], vertices[i, 1]
            bx, by, cx, cy = vertices[j, 0] - ax, vertices[j, 1] - ay, vertices[k, 0] - ax, vertices[k, 1] - ay
            area = 0.5 * abs(bx * cy - by * cx)
            smallest = min(smallest, area)
    return smallest, bool(used.all())


@njit(cache=True)
def optimal_smoothing(vertices: np.ndarray, tris: np.ndarray, angles: np.ndarray, fixed: int, threshold: float,
                      min_area: float, xtol: float, steps: int) -> tuple[bool, np.ndarray]:
    """Optimisation-based smoothing (after Freitag and Ollivier-Gooch): each interior vertex (index
    >= ``fixed``) that is a corner of a triangle sharing a vertex with one under ``threshold``
    degrees (``angles``), in index order and each seeing the moves before it, goes where the
    smallest angle of its star is largest (``_best_spot``, at most ``steps`` Nelder-Mead steps,
    stopping at ``xtol`` nearest-neighbour distances). It moves when that gains over 1e-6 degrees.
    Returns (whether any vertex moved, the vertices)."""
    n, t = len(vertices), len(tris)
    near = np.zeros(n, dtype=np.bool_)
    for k in range(t):
        if angles[k] < threshold:
            near[tris[k, 0]] = near[tris[k, 1]] = near[tris[k, 2]] = True
    movable = np.zeros(n, dtype=np.bool_)
    starts = np.zeros(n + 1, dtype=np.int64)
    for k in range(t):
        i, j, m = tris[k, 0], tris[k, 1], tris[k, 2]
        if near[i] or near[j] or near[m]:
            movable[i] = movable[j] = movable[m] = True
        starts[i + 1] += 1
        starts[j + 1] += 1
        starts[m + 1] += 1
    starts = np.cumsum(starts)
    fill = starts[:-1].copy()
    ring_a, ring_b = np.empty(3 * t, dtype=np.int64), np.empty(3 * t, dtype=np.int64)
    for k in range(t):  # each vertex's star as the opposite edges of its triangles, counter-clockwise
        for c in range(3):
            v = tris[k, c]
            ring_a[fill[v]], ring_b[fill[v]] = tris[k, (c + 1) % 3], tris[k, (c + 2) % 3]
            fill[v] += 1
    out = vertices.copy()
    moved = False
    for v in range(fixed, n):
        if movable[v] and starts[v] < starts[v + 1]:
            moved |= _best_spot(out, v, ring_a[starts[v]:starts[v + 1]], ring_b[starts[v]:starts[v + 1]],
                                2 * min_area, xtol, steps)
    return moved, out


@njit(cache=True)
def _best_spot(points: np.ndarray, v: int, ring_a: np.ndarray, ring_b: np.ndarray, min_cross: float,
               xtol: float, steps: int) -> bool:
    """Moves ``points[v]`` where the smallest angle of its star (triangles v, a, b) is largest:
    Nelder-Mead over ``_star_cot`` from a simplex a fifth of the nearest neighbour's distance wide,
    at most ``steps`` steps, stopping when the simplex is ``xtol`` of that distance narrow.
    Returns whether it moved (a gain over 1e-6 degrees)."""
    x0, y0 = points[v, 0], points[v, 1]
    size = np.inf
    for e in range(len(ring_a)):
        size = min(size, math.hypot(points[ring_a[e], 0] - x0, points[ring_a[e], 1] - y0))
    h = 0.2 * size
    sx, sy, sf = np.empty(3), np.empty(3), np.empty(3)
    sx[0], sy[0], sx[1], sy[1], sx[2], sy[2] = x0, y0, x0 + h, y0, x0, y0 + h
    for s in range(3):
        sf[s] = _star_cot(points, sx[s], sy[s], ring_a, ring_b, min_cross)
    start = sf[0]
    for _ in range(steps):
        b, m, w = _ranked(sf)
        if max(abs(sx[w] - sx[b]), abs(sy[w] - sy[b]), abs(sx[m] - sx[b]), abs(sy[m] - sy[b])) < xtol * size:
            break
        cx, cy = (sx[b] + sx[m]) / 2, (sy[b] + sy[m]) / 2
        rx, ry = 2 * cx - sx[w], 2 * cy - sy[w]
        fr = _star_cot(points, rx, ry, ring_a, ring_b, min_cross)
        if fr < sf[b]:  # reflected past the best: try twice as far
            ex, ey = 3 * cx - 2 * sx[w], 3 * cy - 2 * sy[w]
            fe = _star_cot(points, ex, ey, ring_a, ring_b, min_cross)
            if fe < fr:
                sx[w], sy[w], sf[w] = ex, ey, fe
            else:
                sx[w], sy[w], sf[w] = rx, ry, fr
            continue
        if fr < sf[m]:
            sx[w], sy[w], sf[w] = rx, ry, fr
            continue
        if fr < sf[w]:  # contraction, outside or inside
            kx, ky = cx + 0.5 * (rx - cx), cy + 0.5 * (ry - cy)
        else:
            kx, ky = cx + 0.5 * (sx[w] - cx), cy + 0.5 * (sy[w] - cy)
        fk = _star_cot(points, kx, ky, ring_a, ring_b, min_cross)
        if fk < min(fr, sf[w]):
            sx[w], sy[w], sf[w] = kx, ky, fk
            continue
        for s in (m, w):  # shrink towards the best
            sx[s], sy[s] = sx[b] + 0.5 * (sx[s] - sx[b]), sy[b] + 0.5 * (sy[s] - sy[b])
            sf[s] = _star_cot(points, sx[s], sy[s], ring_a, ring_b, min_cross)
    b = int(np.argmin(sf))
    if not (sf[b] < start and math.degrees(math.atan2(1.0, sf[b]) - math.atan2(1.0, start)) > 1e-6):
        return False
    points[v, 0], points[v, 1] = sx[b], sy[b]
    return True


@njit(cache=True)
def _ranked(f: np.ndarray) -> tuple[int, int, int]:
    """The indices of three values from the smallest, ties in index order (as a stable sort)."""
    b, m, w = 0, 1, 2
    if f[m] < f[b]:
        b, m = m, b
    if f[w] < f[m]:
        m, w = w, m
        if f[m] < f[b]:
            b, m = m, b
    return b, m, w


@njit(cache=True)
def _star_cot(points: np.ndarray, x: float, y: float, ring_a: np.ndarray, ring_b: np.ndarray,
              min_cross: float) -> float:
    """The largest cotangent among the angles of the triangles (x, a, b) (``_angle_terms``' dots over
    twice the area: the smaller, the larger their smallest angle, with no arctangent to compare); inf
    when one is not counter-clockwise with twice its area over ``min_cross``."""
    worst = -np.inf
    for e in range(len(ring_a)):
        a, b = ring_a[e], ring_b[e]
        cross, dots = _angle_terms(x, y, points[a, 0], points[a, 1], points[b, 0], points[b, 1])
        if not cross > min_cross:
            return np.inf
        worst = max(worst, dots / cross)
    return worst


# ---------------------------------------------------------------- Delaunay flips


FLIP_EPS = 1e-12      # an edge is flipped when the opposite vertex is this far inside (relative to the terms)
FLIPS_PER_EDGE = 50   # flips at most, per edge of the mesh, before giving up (floating-point cycles)


@njit(cache=True)
def _in_circle(points: np.ndarray, a: int, b: int, c: int, d: int) -> bool:
    """Whether ``d`` lies clearly inside the circle through the counter-clockwise ``a, b, c``."""
    adx, ady = points[a, 0] - points[d, 0], points[a, 1] - points[d, 1]
    bdx, bdy = points[b, 0] - points[d, 0], points[b, 1] - points[d, 1]
    cdx, cdy = points[c, 0] - points[d, 0], points[c, 1] - points[d, 1]
    alift, blift, clift = adx * adx + ady * ady, bdx * bdx + bdy * bdy, cdx * cdx + cdy * cdy
    det = (alift * (bdx * cdy - cdx * bdy) + blift * (cdx * ady - adx * cdy) + clift * (adx * bdy - bdx * ady))
    scale = (alift * (abs(bdx * cdy) + abs(cdx * bdy)) + blift * (abs(cdx * ady) + abs(adx * cdy))
             + clift * (abs(adx * bdy) + abs(bdx * ady)))
    return det > FLIP_EPS * scale


@njit(cache=True)
def _orient(points: np.ndarray, a: int, b: int, c: int) -> float:
    """Twice the signed area of ``a, b, c``: > 0 when counter-clockwise (``_angle_terms``'s)."""
    return _angle_terms(points[a, 0], points[a, 1], points[b, 0], points[b, 1], points[c, 0], points[c, 1])[0]


@njit(cache=True)
def triangle_neighbors(tris: np.ndarray, n: int) -> np.ndarray:
    """``(t, 3)``: the triangle across the edge opposite each corner, -1 on the border (what
    Triangle's 'n' switch reports) of triangles over ``n`` vertices."""
    t = len(tris)
    keys = np.empty(3 * t, dtype=np.int64)
    for k in range(t):
        for c in range(3):
            i, j = tris[k, (c + 1) % 3], tris[k, (c + 2) % 3]
            keys[3 * k + c] = min(i, j) * n + max(i, j)
    order = np.argsort(keys, kind="mergesort")
    nbr = np.full((t, 3), -1, dtype=np.int64)
    for m in range(len(order) - 1):
        e, f = order[m], order[m + 1]
        if keys[e] == keys[f]:
            nbr[e // 3, e % 3], nbr[f // 3, f % 3] = f // 3, e // 3
    return nbr


@njit(cache=True)
def delaunay_flips(points: np.ndarray, tris: np.ndarray, segments: np.ndarray) -> tuple[np.ndarray, bool]:
    """The constrained Delaunay triangulation reached from a valid counter-clockwise one by
    Lawson's edge flips (the same as Triangle's of the same points, segments and domain, up to
    cocircular ties): each interior edge that is not a segment is flipped while the vertex across
    it lies inside its triangle's circumcircle. Returns (triangles, whether it finished; False
    after ``FLIPS_PER_EDGE`` flips per edge: a floating-point cycle)."""
    n, t = len(points), len(tris)
    out = tris.astype(np.int64)
    nbr = triangle_neighbors(out, n)
    seg_keys = np.empty(len(segments), dtype=np.int64)
    for s in range(len(segments)):
        seg_keys[s] = min(segments[s, 0], segments[s, 1]) * n + max(segments[s, 0], segments[s, 1])
    seg_keys.sort()
    stack = np.empty(6 * t + 8, dtype=np.int64)  # (triangle, corner) pairs, packed as 3 * tri + corner
    top = 0
    for k in range(t):
        for c in range(3):
            if nbr[k, c] > k:
                stack[top] = 3 * k + c
                top += 1
    budget = FLIPS_PER_EDGE * 3 * t
    while top > 0:
        top -= 1
        k, c = stack[top] // 3, stack[top] % 3
        u = nbr[k, c]
        if u < 0:
            continue
        a, b, cc = out[k, c], out[k, (c + 1) % 3], out[k, (c + 2) % 3]
        key = min(b, cc) * n + max(b, cc)
        at = np.searchsorted(seg_keys, key)
        if at < len(seg_keys) and seg_keys[at] == key:
            continue
        j = 0
        while nbr[u, j] != k:
            j += 1
        d = out[u, j]
        if not _in_circle(points, a, b, cc, d) or _orient(points, a, b, d) <= 0 or _orient(points, d, cc, a) <= 0:
            continue  # (the quad is convex whenever d is inside; the orientations guard rounding)
        budget -= 1
        if budget < 0:
            return out, False
        n_b, n_c = nbr[k, (c + 1) % 3], nbr[k, (c + 2) % 3]  # across c-a and a-b
        m_c, m_b = nbr[u, (j + 1) % 3], nbr[u, (j + 2) % 3]  # across b-d and d-c (u = d, cc, b)
        out[k, 0], out[k, 1], out[k, 2] = a, b, d            # across: b-d, d-a, a-b
        nbr[k, 0], nbr[k, 1], nbr[k, 2] = m_c, u, n_c
        out[u, 0], out[u, 1], out[u, 2] = d, cc, a           # across: cc-a, a-d, d-cc
        nbr[u, 0], nbr[u, 1], nbr[u, 2] = n_b, k, m_b
        if m_c >= 0:
            for e in range(3):
                if nbr[m_c, e] == u:
                    nbr[m_c, e] = k
        if n_b >= 0:
            for e in range(3):
                if nbr[n_b, e] == k:
                    nbr[n_b, e] = u
        if top + 4 > len(stack):
            return out, False
        stack[top], stack[top + 1], stack[top + 2], stack[top + 3] = 3 * k, 3 * k + 2, 3 * u, 3 * u + 2
        top += 4
    return out, True


# ---------------------------------------------------------------- compiling


def warm() -> None:
    """Compile (or load from the disk cache) every kernel the mesher calls from Python, on small
    shapes (``offset_outline``, ``clip_to_box`` and ``tidy`` come with ``offset_rings``)."""
    square = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    edges = np.roll(square, -1, axis=0)
    owner, index = np.zeros(4, dtype=np.int64), np.arange(4)
    offset_rings(square, np.array([0, 4]), index, np.ones(4), 2.0, 2.0)
    dp_anchors(square.astype(np.float32), np.array([0, 4]), np.ones(1))
    label_sizes(np.ones((2, 2), dtype=np.int32), 2)
    short_merges(square, np.array([1, 2, 3, 0]), np.array([3, 0, 1, 2]), owner, np.array([4]), np.ones(1), 2.0, 2.0,
                 0.3, 0.9)
    labels_in(np.ones(2, dtype=np.bool_), np.ones((2, 2), dtype=np.int32))
    corner_pixels(np.ones((2, 2), dtype=np.bool_))
    drop_repeats(square, owner, 1)
    near_segments(square, np.ones(4), index, np.array([0]), np.array([4]), square[:1], square[1:2])
    cutting_edges(square, edges, np.ones((1, 1), dtype=bool))
    crossing_edges(square, edges, owner, index, np.array([4]), square[:, 0].copy(), edges[:, 0].copy())
    winding_numbers(square, edges, np.array([[0.5, 0.5]]), 2)
    strided_coverage(square, edges, np.zeros((3, 3), dtype=np.uint8), 1, 1, 2)
    hole_points(square, edges, np.array([0]), np.array([4]), np.array([0]), np.array([[-1.0, -1.0, 2.0, 2.0]]))
    mesh = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 2.0], [1.0, 0.5]])
    tris = np.array([[0, 1, 3], [1, 2, 3], [2, 0, 3]], dtype=np.int32)
    angle_terms(mesh, tris)
    refined_check(mesh, tris, 3)
    group_minima(np.zeros(3, dtype=np.int64), np.ones(3), 1)
    for layout in (tris, tris.astype(np.int64)):  # Triangle's triangles, and assembled meshes
        mesh_islands(layout, np.zeros(3, dtype=np.int64), 4)
        island_tallies(layout, np.zeros(3, dtype=np.int64), np.ones(3), 4, 1)
    for layout in (tris, tris.astype(np.int64)):  # Triangle's triangles, and islands taken out of a mesh
        apex_candidates(mesh, layout, np.array([[0, 1], [1, 2], [2, 0]]), 0.5)
    spread_points(mesh, np.ones(4), mesh[:2])
    ray_clearances(mesh[:1], mesh[:1], square, edges, np.ones(1))
    angle_terms(mesh, tris.astype(np.int64))  # int64 triangles: reordered or assembled meshes, lists
    for layout in (tris, tris.astype(np.int64)):  # islands taken out of a mesh have int64 triangles
        optimal_smoothing(mesh, layout, np.zeros(3), 3, 20.0, 0.1, 1e-3, 100)
        delaunay_flips(mesh, layout, np.array([[0, 1], [1, 2], [2, 0]], dtype=np.int64))
