"""Closed outline rings as data: ``Ring`` and ``Mesh``, and rings packed into one array
(``Packed``: each point's ring and its neighbours) with the vectorised helpers the sprite
mesher's stages share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from pipelines.contour_kernels import drop_repeats
from pipelines.contour_params import TOL


@dataclass
class Ring:
    """A closed outline, ``(n, 2) float`` pixel-corner points with the solid on the left."""

    points: np.ndarray
    is_hole: bool
    island: int


@dataclass
class Mesh:
    """Triangulated outline: hull loops first. ``hull`` indexes ``vertices``: the loops one after
    another, each in walk order and ``loop_sizes`` long (one array, not a list of them: meshes of
    sheets have hundreds of loops)."""

    vertices: np.ndarray   # (n, 2) float
    triangles: np.ndarray  # (t, 3) int
    hull: np.ndarray       # (k,) int
    loop_sizes: list[int]

    @property
    def loops(self) -> list[np.ndarray]:
        """Each loop's vertex indices (views of ``hull``)."""
        return [self.hull[a:b] for a, b in self._spans()]

    def loop_points(self) -> list[np.ndarray]:
        """Each loop's vertex coordinates (views of one gather of the hull's)."""
        ordered = self.vertices[self.hull]
        return [ordered[a:b] for a, b in self._spans()]

    def _spans(self) -> Iterator[tuple[int, int]]:
        """(start, end) of each loop in ``hull``."""
        return pairwise(np.cumsum([0, *self.loop_sizes]).tolist())


def roll_next(a: np.ndarray) -> np.ndarray:
    """``np.roll(a, -1, axis=0)`` without its overhead (hot in the per-ring simplification)."""
    return np.concatenate((a[1:], a[:1]))


def roll_prev(a: np.ndarray) -> np.ndarray:
    """``np.roll(a, 1, axis=0)`` without its overhead."""
    return np.concatenate((a[-1:], a[:-1]))


def cross2(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(...)`` z of the cross product of the last-axis pairs of ``u`` and ``v`` (rows of ``(k, 2)``
    arrays and the like): > 0 where v turns left of u."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def signed_area(points: np.ndarray) -> float:
    """Shoelace area; positive when the interior is on the left of the walk (x right, y down)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, roll_next(y)) - np.dot(roll_next(x), y))


def ring_boxes(rings: list[np.ndarray]) -> np.ndarray:
    """``(r, 4) float`` (x0, y0, x1, y1) of every ring, widened by ``TOL.geom_eps``."""
    sizes = np.array([len(r) for r in rings], dtype=np.int64)
    points = np.concatenate(rings)
    starts = np.cumsum(sizes) - sizes
    lo = np.minimum.reduceat(points, starts, axis=0) - TOL.geom_eps
    hi = np.maximum.reduceat(points, starts, axis=0) + TOL.geom_eps
    return np.concatenate([lo, hi], axis=1)


@dataclass
class Packed:
    """Rings concatenated into one array, with each point's ring and its ring's neighbours."""

    points: np.ndarray  # (n, 2)
    ring: np.ndarray    # (n,) ring of each point, non-decreasing
    starts: np.ndarray  # (r + 1,) first point of each ring, then n
    nxt: np.ndarray     # (n,) next point of the same ring (wrapping)
    prv: np.ndarray     # (n,) previous point of the same ring (wrapping)


def pack(points: np.ndarray, ring: np.ndarray, count: int) -> Packed:
    """Per-ring neighbour indices for points grouped by ring (``ring`` non-decreasing)."""
    return Packed(points, ring, *links(np.bincount(ring, minlength=count)))


def links(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def pack_rings(rings: list[np.ndarray]) -> Packed:
    """``pack`` of a list of rings."""
    sizes = [len(r) for r in rings]
    return pack(np.concatenate(rings), np.repeat(np.arange(len(rings)), sizes), len(rings))


def unpack(packed: Packed) -> list[np.ndarray]:
    """The packed rings as a list of arrays."""
    starts = packed.starts.tolist()
    points = packed.points
    return [points[a:b] for a, b in pairwise(starts)]  # views, as np.split (which costs ~10x more per ring)


def ring_areas(packed: Packed) -> np.ndarray:
    """``signed_area`` of every packed ring."""
    p, q = packed.points, packed.points[packed.nxt]
    cross = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    return 0.5 * np.bincount(packed.ring, weights=cross, minlength=len(packed.starts) - 1)


def drop_repeats_batch(points: np.ndarray, owner: np.ndarray, count: int) -> tuple[Packed, np.ndarray, np.ndarray]:
    """Remove consecutive duplicates, then collinear points, in every ring; also whether each
    ring keeps at least 3 points, and the indices of the points kept (``contour_kernels.drop_repeats``)."""
    index = drop_repeats(points, owner, count)
    points, owner = points[index], owner[index]
    return pack(points, owner, count), np.bincount(owner, minlength=count) >= 3, index


def expand_runs(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(run, value) for every value of each integer run [start, stop)."""
    counts = np.maximum(stop - start, 0)
    run = np.repeat(np.arange(len(start)), counts)
    return run, np.arange(len(run)) - np.repeat(np.cumsum(counts) - counts, counts) + start[run]


def ring_edges(rings: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) points of every edge of the closed rings, ``(n, 2)`` each."""
    points = np.concatenate(rings)
    return points, points[next_index([len(r) for r in rings])]


def next_index(sizes: list[int]) -> np.ndarray:
    """``(n,) int`` index of the next point of the same ring, for consecutive rings of ``sizes``."""
    return links(np.asarray(sizes, dtype=np.int64))[1]
