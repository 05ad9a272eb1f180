"""Triangle quality after Triangle, with the outline fixed (issue 6).

Triangle run with 'YY' never splits an outline segment, so its refinement gives up on a bad
triangle whose circumcentre encroaches a segment and leaves slivers next to the outline even where
a better triangulation exists. ``improve`` takes such a result and, keeping every outline vertex
and segment as it is:

1. puts an interior point on the bisector of each outline segment of a bad triangle (the apex of
   the isosceles triangle on it, at most equilateral and at most half-way to the opposite
   outline) and at the circumcentre of a bad triangle without a segment when that lies inside,
   and lets Triangle re-mesh with those points as input vertices: first with the outline alone
   (when a bad triangle has one of Triangle's Steiner points), then with all of its vertices
   (points that leave a refined triangle under ``min_triangle_area``, or lie outside, are dropped
   and the rest kept);
2. smooths the interior vertices near bad triangles: each in turn moves where the smallest angle
   of its star is largest (optimisation-based smoothing, Nelder-Mead on the star), and the
   constrained Delaunay triangulation is rebuilt, while a pass raises the smallest angle;
3. when that falls short of 20 degrees, starts again from Triangle's conforming refinement (which
   may split segments) with each split point moved off its segment into the solid, and smooths
   that; it adds more vertices, so it is kept only when it gains ``CONFORM_GAIN_DEG`` and
   ``CONFORM_DEG_PER_SHARE`` for each 100 % more vertices than the best mesh before it, or when
   it reaches 20 degrees where that mesh did not (any start, any vertex count within the budget;
   and any start with no more vertices is kept when it gains at all). A split point moved just
   off a short segment often makes a triangle under ``min_triangle_area``; when the seeding
   drops such points, it is tried again with them raised off the small triangle's far side to
   the height the area needs (``_pushed``), and both are smoothed.
4. when that still falls short, on small meshes, removes an interior corner of the worst triangle
   or adds a vertex at its centroid, and smooths again, for a round or two (``_local_changes``),
   then tries one more start: the outline seeded with flatter apex points too
   (``_low_apex_start``); on a sheet, an island left just short of 20 degrees gets the local
   changes on its own afterwards (``_near_misses_alone``), as the sheet's worst triangle is often
   another island's;
5. last, the islands worked on are polished: a couple of smoothing passes more, each vertex's
   search run to a far finer tolerance, near each island's worst triangles (``_polished``). The
   search's coarse stop leaves coupled vertices thousandths of a degree short of where they
   can go, which is the whole gap on sprites whose bound the mesher otherwise meets.

Islands with more than ``MAX_BAD`` bad triangles are left as they are (the cost grows with them
and one left over keeps the smallest angle), and so is the whole mesh when the islands under that
count hold more than ``MAX_BAD_TOTAL`` between them. Only the islands with a bad triangle are
re-meshed (``improve_islands``), and each island keeps its own best state: a state is kept for an
island when its smallest angle there is larger, its refined triangles respect
``min_triangle_area``, it fits ``max_vertices`` and every vertex is used. So a sharp corner on one
sprite of a sheet no longer keeps another sprite's slivers. An island the same shape as an earlier
one (a sheet's repeated frame) is not refined again, nor counted again against ``MAX_BAD_TOTAL``:
it takes a translated copy of the earlier one's triangles, so repeated frames get the same mesh.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import triangle

from pipelines.contour_kernels import (
    angle_terms,
    apex_candidates,
    delaunay_flips,
    group_minima,
    island_tallies,
    mesh_islands,
    optimal_smoothing,
    ray_clearances,
    refined_check,
    spread_points,
)
from pipelines.contour_params import TOL, ContourParams
from pipelines.errors import InputError

SQRT3_2 = math.sqrt(3) / 2
APEX_SHARE = 0.5            # an apex rises at most this share of the way to the opposite outline
APEX_MIN_DEG = 10.0         # an apex's base angle at least this (a flatter apex pins slivers to the segment),
LOW_APEX_DEG = 0.0          # but a last start takes them all (``_low_apex_start``)
AREA_MARGIN = 1.01          # a point raised for min_triangle_area makes its triangle this much larger
SMOOTH_PASSES = 6           # smoothing passes at most, each followed by a constrained Delaunay rebuild
SMOOTH_XTOL = 1e-3          # each vertex's Nelder-Mead stops when its simplex is this narrow (in
SMOOTH_STEPS = 100          # nearest-neighbour distances), or after this many steps
POLISH_PASSES = 2           # polishing passes over the mesh kept (more gained no island of the corpus),
POLISH_XTOL = 1e-6          # each vertex's search run this fine (the last thousandths of a degree),
POLISH_BAND_DEG = 0.5       # moving the vertices near triangles this close to their island's smallest angle
MAX_BAD = 24                # more bad triangles than this on an island: one is unlikely to fix them all,
MAX_BAD_TOTAL = 48          # or than this on the islands taken: do not pay
CONFORM_SHARE = 0.5         # a conforming split point moves inward this share of its spacing
CONFORM_GAIN_DEG = 1.0      # smallest-angle gain the conforming points' start must bring,
CONFORM_DEG_PER_SHARE = 10.0  # and this many per 100 % more vertices (a degree per 10 %)
PRUNE_ROUNDS = 1            # times a seeding drops the points its mesh blames and tries again
DENSITY_PRUNE_ROUNDS = 9    # the same for the points an area cap made (capped_kept_valid)
PUSH_ROUNDS = 2             # times the conforming seeding first moves them away from their small triangles
LOCAL_ROUNDS = 2            # rounds of local changes at the worst triangle after the starts,
LOCAL_MAX_VERTICES = 80     # on meshes this small (each change is a rebuild and its smoothing)
NEAR_MISS_DEG = 18.0        # a sheet's island left this close to 20 degrees gets the local changes alone,
NEAR_MISS_ISLANDS = 2       # when the sheet has no more such islands than this (each takes 0.2-0.4 ms)


def improve_islands(result: dict, angles: np.ndarray, fixed: int, segments: np.ndarray, holes: np.ndarray | None,
                    params: ContourParams, area: float | None, outline_island: np.ndarray,
                    hole_island: np.ndarray) -> dict:
    """``_improve_jointly``, then, on a mesh of several islands, each of the few islands left just
    short of 20 degrees given the local changes on its own (``_near_misses_alone``); last, the
    islands either step worked on are polished (``_polished``: after the local changes, which look
    for the worst triangle, where a polished island has several at one angle)."""
    if angles.min() >= TOL.min_angle_deg:
        return result
    mesh, tried = _improve_jointly(result, angles, fixed, segments, holes, params, area, outline_island,
                                   hole_island)
    if outline_island.max() != outline_island.min():  # (one island: improve took it whole, local changes included)
        mesh, redone = _near_misses_alone(mesh, fixed, segments, holes, params, area, outline_island, hole_island)
        tried |= redone
    if not tried.any():
        return mesh
    tri_island = vertex_islands(mesh["triangles"], outline_island, len(mesh["vertices"]))[mesh["triangles"][:, 0]]
    ctx = _Context(fixed, segments, holes, params, area, _region_points(mesh, tri_island))
    return _polished(ctx, mesh, tri_island, tried)


def _near_misses_alone(mesh: dict, fixed: int, segments: np.ndarray, holes: np.ndarray | None,
                       params: ContourParams, area: float | None, outline_island: np.ndarray,
                       hole_island: np.ndarray) -> tuple[dict, np.ndarray]:
    """``mesh`` with each island whose smallest angle is in ``[NEAR_MISS_DEG, 20)`` and that has at
    most ``LOCAL_MAX_VERTICES`` vertices given the local changes on its own (``improve`` without its
    starts: the island was refined with the others), when there are 1 to ``NEAR_MISS_ISLANDS`` such
    islands. Refined together, a sheet's islands share one worst triangle for the local changes,
    often another island's that no change helps, so the round gains nothing and they stop. Also
    which islands it changed."""
    count = int(outline_island.max()) + 1
    redone = np.zeros(count, dtype=bool)
    if not len(mesh["triangles"]):
        return mesh, redone
    labels = vertex_islands(mesh["triangles"], outline_island, len(mesh["vertices"]))
    tri_island = labels[mesh["triangles"][:, 0]]
    worst = group_minima(tri_island, min_angles(mesh["vertices"], mesh["triangles"]), count)
    near = (worst >= NEAR_MISS_DEG) & (worst < TOL.min_angle_deg)
    near &= np.bincount(labels, minlength=count) <= LOCAL_MAX_VERTICES
    if not 0 < np.count_nonzero(near) <= NEAR_MISS_ISLANDS:
        return mesh, redone
    pieces = []
    for island in np.flatnonzero(near).tolist():
        sub = Islands(mesh, labels == island, fixed, segments, holes, hole_island == island)
        room = replace(params, max_vertices=params.max_vertices - len(mesh["vertices"]) + len(sub.result["vertices"]))
        better = improve(sub.result, len(sub.outline), sub.segments, sub.holes, room, area, starts=False)
        if better is not sub.result:
            pieces.append((better, sub.outline, None))
            redone[island] = True
    if not pieces:
        return mesh, redone
    whole = assembled(mesh["vertices"][:fixed], segments, [(mesh, np.arange(fixed), ~redone[tri_island]), *pieces])
    return (whole, redone) if len(whole["vertices"]) <= params.max_vertices else (mesh, np.zeros_like(redone))


def _improve_jointly(result: dict, angles: np.ndarray, fixed: int, segments: np.ndarray, holes: np.ndarray | None,
                     params: ContourParams, area: float | None, outline_island: np.ndarray,
                     hole_island: np.ndarray) -> tuple[dict, np.ndarray]:
    """``improve`` on the islands that have bad triangles, taken out of the mesh (an island's
    constrained triangulation is the whole mesh's restricted to it: segments separate islands, so
    Triangle need not see the others). ``angles``: ``min_angles`` of ``result``'s triangles;
    ``outline_island`` and ``hole_island``: the island of each outline vertex and of each hole point.
    The islands taken are those with 1 to ``MAX_BAD`` bad triangles, when they hold at most
    ``MAX_BAD_TOTAL`` in all. An island the same shape as one before it (a sheet's repeated frame,
    ``_first_twins``) is not refined itself: it takes a translated copy of that one's refined
    triangles where they are better than its own, and its bad triangles are not counted again.
    Also which islands were refined or copied."""
    bad = angles < TOL.min_angle_deg
    labels = vertex_islands(result["triangles"], outline_island, len(result["vertices"]))
    tri_island = labels[result["triangles"][:, 0]]
    count = np.bincount(tri_island[bad], minlength=int(outline_island.max()) + 1)
    taken = (count > 0) & (count <= MAX_BAD)
    first = _first_twins(result["vertices"][:fixed], segments, outline_island, taken)
    refined = taken & (first == np.arange(len(count)))
    if not refined.any() or count[refined].sum() > MAX_BAD_TOTAL:
        return result, np.zeros_like(refined)
    if refined.all():
        return improve(result, fixed, segments, holes, params, area, labels, angles), refined
    sub = Islands(result, refined[labels], fixed, segments, holes, refined[hole_island])
    room = replace(params, max_vertices=params.max_vertices - len(result["vertices"]) + len(sub.result["vertices"]))
    mesh = improve(sub.result, len(sub.outline), sub.segments, sub.holes, room, area,
                   np.unique(labels[refined[labels]], return_inverse=True)[1])
    if mesh is sub.result:
        return result, refined
    pieces = [(mesh, sub.outline, None)]
    copies = _twin_copies(mesh, sub.outline, outline_island, taken & ~refined, first,
                          group_minima(tri_island, angles, len(count)), result["vertices"])
    whole = assembled(result["vertices"][:fixed], segments,
                      [(result, np.arange(fixed), ~(refined | copies.islands)[tri_island]), *pieces, *copies.pieces])
    if len(whole["vertices"]) <= params.max_vertices:
        return whole, refined | copies.islands
    return assembled(result["vertices"][:fixed], segments,  # the copies over the budget: the twins as they were
                     [(result, np.arange(fixed), ~refined[tri_island]), *pieces]), refined


def _first_twins(outline: np.ndarray, segments: np.ndarray, outline_island: np.ndarray,
                 among: np.ndarray) -> np.ndarray:
    """``(islands,) int``: for each island in ``among`` (a mask over islands), the first island there
    (by number) of the same shape: the same outline points in the same order, up to a translation
    (to 1e-6 px), joined by segments the same way. Itself when none is before it, or not in ``among``."""
    first = np.arange(len(among))
    if np.count_nonzero(among) < 2:  # a twin needs two islands (a single sprite pays nothing)
        return first
    following = np.empty(len(outline), dtype=np.int64)
    following[segments[:, 0]] = segments[:, 1]
    order = np.argsort(outline_island, kind="stable")  # each island's outline vertices, in their order
    island, starts, sizes = np.unique(outline_island[order], return_index=True, return_counts=True)
    place = np.empty(len(outline), dtype=np.int64)
    place[order] = np.arange(len(order)) - np.repeat(starts, sizes)  # position within its island
    # every island's points from its first and its links, at once: each key below is two slices
    shape = np.round(outline[order] - outline[order[np.repeat(starts, sizes)]], 6) + 0.0  # + 0.0: no -0.0
    link = place[following[order]]
    seen: dict[bytes, int] = {}
    for i, a, b in zip(island.tolist(), starts.tolist(), (starts + sizes).tolist(), strict=True):
        if among[i]:
            first[i] = seen.setdefault(shape[a:b].tobytes() + link[a:b].tobytes(), i)
    return first


class _Copies(NamedTuple):
    """Translated copies of refined islands for their twins: which islands they cover, and the
    ``assembled`` pieces that hold them."""
    islands: np.ndarray
    pieces: list


def _twin_copies(mesh: dict, sub_outline: np.ndarray, outline_island: np.ndarray, twins: np.ndarray,
                 first: np.ndarray, before: np.ndarray, vertices: np.ndarray) -> _Copies:
    """For each island in ``twins`` (not refined, same shape as ``first[i]``, which was), the
    refined ``mesh`` (of the islands at ``sub_outline``) with ``first[i]``'s triangles taken and
    moved onto it, where their smallest angle beats the island's own (``before``, per island)."""
    if not twins.any():
        return _Copies(twins, [])
    own = outline_island[sub_outline]
    tri_island = vertex_islands(mesh["triangles"], own, len(mesh["vertices"]))[mesh["triangles"][:, 0]]
    after = group_minima(tri_island, min_angles(mesh["vertices"], mesh["triangles"]), len(before))
    covered = np.zeros(len(before), dtype=bool)
    pieces = []
    for i in np.flatnonzero(twins & (after[first] > before)).tolist():
        source = own == first[i]
        at = sub_outline.copy()
        at[source] = np.flatnonzero(outline_island == i)
        shift = vertices[at[source][0]] - vertices[sub_outline[source][0]]
        pieces.append(({"vertices": mesh["vertices"] + shift, "triangles": mesh["triangles"]}, at,
                       tri_island == first[i]))
        covered[i] = True
    return _Copies(covered, pieces)


def vertex_islands(tris: np.ndarray, outline_island: np.ndarray, count: int) -> np.ndarray:
    """``(count,) int``: the island of each vertex, from the connected parts of the mesh and the
    island of each outline vertex (each part holds outline vertices of one island)."""
    return mesh_islands(tris, np.asarray(outline_island, dtype=np.int64), count)


class Islands:
    """Some islands of a Triangle result as a problem of their own: their outline vertices first
    (``outline``: in their order in the whole), then their other vertices; their segments, holes
    and triangles renumbered."""

    def __init__(self, result: dict, mine: np.ndarray, fixed: int, segments: np.ndarray,
                 holes: np.ndarray | None, mine_hole: np.ndarray) -> None:
        self.outline = np.flatnonzero(mine[:fixed])
        inner = np.flatnonzero(mine[fixed:]) + fixed
        local = np.full(len(mine), -1, dtype=np.int64)
        local[self.outline] = np.arange(len(self.outline))
        local[inner] = np.arange(len(self.outline), len(self.outline) + len(inner))
        tris = result["triangles"]
        self.segments = local[segments[mine[segments[:, 0]]]]
        self.holes = holes[mine_hole] if holes is not None and mine_hole.any() else None
        self.result = {"vertices": result["vertices"][np.concatenate([self.outline, inner])],
                       "triangles": local[tris[mine[tris[:, 0]]]], "segments": self.segments}


def assembled(outline: np.ndarray, segments: np.ndarray,
              pieces: list[tuple[dict, np.ndarray, np.ndarray | None]]) -> dict:
    """One mesh of ``outline`` from pieces of meshes of it: each piece is (a mesh whose first
    vertices are the outline vertices at the given indices, those indices, which of its triangles
    to take (None: all)). The outline vertices come first, then each piece's other vertices."""
    verts, tris, start = [outline], [], len(outline)
    for mesh, at, take in pieces:
        chosen = mesh["triangles"] if take is None else mesh["triangles"][take]
        used = np.zeros(len(mesh["vertices"]), dtype=bool)
        used[chosen.ravel()] = True
        inner = np.flatnonzero(used[len(at):]) + len(at)  # the sorted unique non-outline vertices
        index = np.zeros(len(mesh["vertices"]), dtype=np.int64)
        index[:len(at)] = at
        index[inner] = np.arange(start, start + len(inner))
        verts.append(mesh["vertices"][inner])
        tris.append(index[chosen])
        start += len(inner)
    return {"vertices": np.concatenate(verts), "triangles": np.concatenate(tris).astype(np.int32),
            "segments": segments}


def improve(result: dict, fixed: int, segments: np.ndarray, holes: np.ndarray | None, params: ContourParams,
            area: float | None, islands: np.ndarray | None = None, angles: np.ndarray | None = None, *,
            starts: bool = True) -> dict:
    """``result`` or a better mesh of the same outline (first ``fixed`` vertices, ``segments``),
    better island by island (``_IslandBests``; ``islands``: each vertex's island, default one;
    ``angles``: ``min_angles`` of ``result``, when the caller has them; ``starts=False``: the local
    changes only, for a mesh refined before). Whether that is worth its cost is the caller's call
    (``improve_islands``)."""
    target = TOL.min_angle_deg
    angles = _angles(result) if angles is None else angles
    if angles.min() >= target:
        return result
    best = _IslandBests(result, angles, fixed, segments, islands, params.max_vertices)
    ctx = _Context(fixed, segments, holes, params, area, best.regions)
    for start, gain, per_share in _starts(ctx, result, angles < target) if starts else ():
        best.offer(list(_smoothed(ctx, start, angles if start is result else _angles(start))), gain, per_share)
        if best.worst >= target:
            return best.mesh()
    if len(result["vertices"]) <= LOCAL_MAX_VERTICES:
        _local_changes(ctx, best)
    if starts and best.worst < target and (low := _low_apex_start(ctx, result, angles < target)) is not None:
        best.offer(list(_smoothed(ctx, low, _angles(low))), TOL.ladder_gain_deg, 0.0)
    return best.mesh()


def _low_apex_start(ctx: _Context, result: dict, bad: np.ndarray) -> dict | None:
    """The outline alone seeded with every apex point down to ``LOW_APEX_DEG`` (``apex_points``
    keeps those under ``APEX_MIN_DEG`` out of its starts); None when that adds none. Beside a long
    segment whose far end comes near another vertex only a flat apex is possible (the fence: 2.49
    -> 2.70 degrees, its bound). Tried last, after the local changes: taken earlier, its small gain
    became the local changes' starting point where the usual one led them further (a crow sheet
    island 5.20 -> 5.02 degrees)."""
    args = (result["vertices"], result["triangles"], bad, ctx.segments, ctx.params.min_triangle_area)
    low = apex_points(*args, LOW_APEX_DEG)
    if len(low) <= len(apex_points(*args)):
        return None
    return _with_points(ctx, result["vertices"][:ctx.fixed], low)


def _region_points(mesh: dict, tri_island: np.ndarray) -> np.ndarray | None:
    """Triangle's regions ('A'): a point in a triangle of each island with its number (``tri_island``:
    each triangle's), so its triangles come labelled; None for one island."""
    present, first = np.unique(tri_island, return_index=True)
    if len(present) < 2:
        return None
    centres = mesh["vertices"][mesh["triangles"][first]].mean(axis=1)
    return np.column_stack([centres, present, np.zeros(len(present))])


def _triangle_islands(mesh: dict, labelled: bool) -> np.ndarray:
    """``(t,) int`` the island of each triangle of a Triangle result: the region label Triangle gave
    it when run with regions ('A', ``labelled``), else 0 (one island)."""
    if not labelled:
        return np.zeros(len(mesh["triangles"]), dtype=np.int64)
    return np.rint(mesh["triangle_attributes"][:, 0]).astype(np.int64)


def _polished(ctx: _Context, mesh: dict, tri_island: np.ndarray, islands: np.ndarray) -> dict:
    """``mesh`` after up to ``POLISH_PASSES`` smoothing passes with each vertex's search run to
    ``POLISH_XTOL``, moving the vertices near triangles within ``POLISH_BAND_DEG`` of their island's
    smallest angle; it stops when a pass moves nothing or would lower an island's smallest angle
    (the constrained Delaunay rebuild of the moved points never does; Triangle's, under an area
    cap, may add points). Two vertices of one sliver each stop where the other blocks it, and a
    coarse search stops a little short of that spot, so the search's passes end thousandths of a
    degree under what the vertices reach. ``tri_island``: the island of each triangle; ``islands``:
    which to polish (a mask)."""
    angles, count = _angles(mesh), len(islands)
    worst = group_minima(tri_island, angles, count)
    work = mesh if ctx.regions is None else {**mesh, "triangle_attributes": tri_island[:, None].astype(float)}
    for _ in range(POLISH_PASSES):  # work: the labelled copy the rebuilds keep labels on
        ceiling = np.where(islands, np.minimum(worst + POLISH_BAND_DEG, TOL.min_angle_deg), -np.inf)
        polished = _smooth_pass(ctx, work, angles, angles - ceiling[tri_island], 0.0, POLISH_XTOL)
        if polished is None:
            break
        polished_angles = _angles(polished)
        polished_island = _triangle_islands(polished, ctx.regions is not None)
        polished_worst = group_minima(polished_island, polished_angles, count)
        if (polished_worst < worst).any():
            break
        mesh = work = polished
        angles, tri_island, worst = polished_angles, polished_island, polished_worst
    return mesh


class _IslandBests:
    """For each island of a mesh (islands share no vertex and segments separate them, so each can
    take its triangles from a different candidate mesh of the same outline), the best candidate so
    far: its smallest angle there and its vertex count there; all of them within ``budget``."""

    def __init__(self, result: dict, angles: np.ndarray, fixed: int, segments: np.ndarray,
                 islands: np.ndarray | None, budget: int) -> None:
        self.fixed, self.segments, self.budget = fixed, segments, budget
        self.count = 1 if islands is None else int(islands.max()) + 1
        if self.count == 1:
            islands = np.zeros(len(result["vertices"]), dtype=np.int64)
        self.meshes = [(result, islands, islands[result["triangles"][:, 0]])]
        self.angle, self.size = self._measure(0, angles)
        self.source = np.zeros(self.count, dtype=np.int64)
        self.regions = _region_points(result, self.meshes[0][2]) if self.count > 1 else None

    @property
    def worst(self) -> float:
        """The smallest angle of the best mesh."""
        return float(self.angle.min())

    def _measured(self, mesh: dict, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(island of each vertex, island of each triangle, smallest angle and vertex count in each
        island) of a candidate mesh, its triangles' islands from the region labels Triangle gave them."""
        if mesh is self.meshes[0][0]:  # the input again (a start that added nothing)
            return *self.meshes[0][1:], *self._measure(0, angles)
        tri_island = _triangle_islands(mesh, self.count > 1)
        vertex_island, smallest, size = island_tallies(mesh["triangles"], tri_island, angles, len(mesh["vertices"]),
                                                       self.count)
        return vertex_island, tri_island, smallest, size

    def _measure(self, k: int, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(smallest angle, vertex count) in each island of candidate ``k``."""
        _, vertex_island, tri_island = self.meshes[k]
        return group_minima(tri_island, angles, self.count), np.bincount(vertex_island, minlength=self.count)

    def offer(self, chain: list[tuple[dict, np.ndarray]], gain: float, per_share: float) -> None:
        """A start and its smoothing passes: in each island, the chain's best (by smallest angle,
        later ones by ``TOL.ladder_gain_deg``) replaces the best so far when it gains ``gain``
        degrees and ``per_share`` for each 100 % more vertices there; or gains at all
        (``TOL.ladder_gain_deg``) with no more vertices; or reaches ``TOL.min_angle_deg`` where the
        best so far does not (the issue's target: not a trade against vertices, within the budget)."""
        chain_angle = chain_size = chain_at = None
        for mesh, angles in chain:
            vertex_island, tri_island, angle, size = self._measured(mesh, angles)
            self.meshes.append((mesh, vertex_island, tri_island))
            k = len(self.meshes) - 1
            if chain_at is None:
                chain_angle, chain_size, chain_at = angle, size, np.full(self.count, k)
                continue
            up = angle > chain_angle + TOL.ladder_gain_deg
            chain_angle, chain_size = np.where(up, angle, chain_angle), np.where(up, size, chain_size)
            chain_at[up] = k
        if chain_at is None:
            return
        added = (chain_size - self.size) / self.size
        worth = chain_angle > self.angle + np.maximum(gain, per_share * added)
        worth |= (chain_size <= self.size) & (chain_angle > self.angle + TOL.ladder_gain_deg)
        worth |= (chain_angle >= TOL.min_angle_deg) & (self.angle < TOL.min_angle_deg)
        take = self._within_budget(worth, chain_size - self.size, chain_angle - self.angle)
        self.angle[take], self.size[take], self.source[take] = chain_angle[take], chain_size[take], chain_at[take]

    def _within_budget(self, take: np.ndarray, grow: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """``take`` less what would put the islands' vertices together over ``budget`` (each
        candidate fits it, but two islands from two candidates may not): islands that shrink first,
        then the largest gains while they fit."""
        room = self.budget - int(self.size.sum()) - int(grow[take & (grow <= 0)].sum())
        if int(grow[take & (grow > 0)].sum()) <= room:
            return take
        out = take & (grow <= 0)
        for island in np.argsort(-gain, kind="stable").tolist():
            if take[island] and 0 < grow[island] <= room:
                out[island] = True
                room -= int(grow[island])
        return out

    def mesh(self) -> dict:
        """The best mesh: each island from its best candidate (that candidate itself when it is one)."""
        if (self.source == self.source[0]).all():
            return self.meshes[int(self.source[0])][0]
        outline = np.arange(self.fixed)
        return assembled(self.meshes[0][0]["vertices"][:self.fixed], self.segments,
                         [(self.meshes[k][0], outline, self.meshes[k][2] == island)
                          for island, k in enumerate(self.source.tolist())])


def _starts(ctx: _Context, result: dict, bad: np.ndarray) -> Iterator[tuple[dict, float, float]]:
    """The meshes smoothing starts from, each with the gain in degrees its path must bring, in all
    and per share of vertices added, each only when the paths before fell short: when a bad
    triangle has one of Triangle's own Steiner points, the outline alone seeded with ``apex_points``
    (a Steiner point beside a corner can pin a sliver to a long segment, where smoothing cannot move
    it without folding its other triangles); ``result`` seeded with them (or ``result`` itself);
    ``result`` seeded from ``conforming_points``, which adds more, and when that seeding dropped
    points for small triangles, the same with them pushed (``_pushed``). Each seeding is
    Triangle's mesh with the points added (``_with_points``), the apex points computed once."""
    apex = apex_points(result["vertices"], result["triangles"], bad, ctx.segments, ctx.params.min_triangle_area)
    bare = None
    if (result["triangles"][bad] >= ctx.fixed).any() and \
            (bare := _with_points(ctx, result["vertices"][:ctx.fixed], apex)) is not None:
        yield bare, TOL.ladder_gain_deg, 0.0
    seeded = _with_points(ctx, result["vertices"], apex) or result  # its vertices are free
    if bare is None or not _same_points(seeded["vertices"], bare["vertices"]):  # else the same path again
        yield seeded, TOL.ladder_gain_deg, 0.0
    points = conforming_points(result["vertices"][:ctx.fixed], ctx.segments, ctx.holes, ctx.params, ctx.area)
    conformed = _with_points(ctx, result["vertices"][:ctx.fixed], points)
    if conformed is not None:
        yield conformed, CONFORM_GAIN_DEG, CONFORM_DEG_PER_SHARE
    if conformed is not None and len(conformed["vertices"]) >= ctx.fixed + len(points):
        return  # no point was dropped: pushing would change nothing
    pushed = _with_points(ctx, result["vertices"][:ctx.fixed], points, push=PUSH_ROUNDS)
    if pushed is not None and (conformed is None or not _same_points(pushed["vertices"], conformed["vertices"])):
        yield pushed, CONFORM_GAIN_DEG, CONFORM_DEG_PER_SHARE


def _local_changes(ctx: _Context, best: _IslandBests) -> None:
    """Up to ``LOCAL_ROUNDS`` rounds at the worst triangle of the best mesh so far: the mesh without
    each of its interior corners and the mesh with a vertex at its centroid, each rebuilt, smoothed
    and offered to ``best``; stops at 20 degrees or after a round that gains nothing. (Smoothing
    moves vertices but never adds or removes one; apex seeding often leaves one point too many or
    too few.)"""
    for _ in range(LOCAL_ROUNDS):
        mesh, before = best.mesh(), best.worst
        vertices = mesh["vertices"]
        worst = mesh["triangles"][int(np.argmin(_angles(mesh)))]
        variants = [np.delete(vertices, v, axis=0) for v in worst.tolist() if v >= ctx.fixed]
        variants.append(np.concatenate([vertices, vertices[worst].mean(axis=0, keepdims=True)]))
        for changed in map(ctx.mesh, variants):
            if ctx.valid(changed):
                best.offer(list(_smoothed(ctx, changed, _angles(changed))), TOL.ladder_gain_deg, 0.0)
        if best.worst >= TOL.min_angle_deg or best.worst <= before + TOL.ladder_gain_deg:
            return


def _same_points(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two ``(n, 2)`` point arrays hold the same points (to ``TOL.geom_eps``), in any order:
    Triangle's refinement often puts back the very Steiner points it made before, up to rounding.
    (The largest difference against the tolerance: ``np.allclose`` took 16 us here, this 2 us.)"""
    if a.shape != b.shape:
        return False
    return not len(a) or float(np.abs(a[np.lexsort(a.T)] - b[np.lexsort(b.T)]).max()) <= TOL.geom_eps


def _with_points(ctx: _Context, vertices: np.ndarray, points: np.ndarray, *, push: int = 0,
                 quality: bool = True, drops: int | None = None) -> dict | None:
    """Triangle's mesh of ``vertices`` and the interior ``points`` (refined to 20 degrees unless
    that goes under ``min_triangle_area``, or not at all without ``quality``); when the points alone
    do not make a valid mesh, the ones to blame (unused: outside the solid; or a corner of a refined
    triangle under ``min_triangle_area``) are dropped and the rest tried again, ``drops`` times at
    most (default ``PRUNE_ROUNDS``, read at the call). With ``push``, up to that many times first,
    the points in such small triangles are moved away from them instead (``_pushed``). None when no
    points are left, they exceed the vertex budget, or no mesh is valid."""
    if not len(points) or len(vertices) + len(points) > ctx.params.max_vertices:
        return None
    every = np.concatenate([vertices, points])
    if quality and ctx.valid(seeded := ctx.mesh(every, quality=True)):
        return seeded
    drops = PRUNE_ROUNDS if drops is None else drops
    while True:  # Triangle's own refinement went under min_triangle_area: the points alone
        seeded = ctx.mesh(every)
        if ctx.valid(seeded):
            return seeded
        if push and (moved := _pushed(ctx, seeded, len(vertices), every)) is not None:
            every, push = moved, push - 1
            continue
        keep = _blameless(ctx, seeded, len(vertices), len(every)) if drops else None
        if keep is None or keep.all() or not keep.any():
            return None
        every, drops = np.concatenate([vertices, every[len(vertices):][keep]]), drops - 1


def capped_kept_valid(result: dict, fixed: int, segments: np.ndarray, holes: np.ndarray | None,
                      params: ContourParams) -> dict:
    """An area-capped refinement ``result`` of an outline (its first ``fixed`` vertices, ``segments``
    unsplit, ``holes``) valid for ``min_triangle_area``: itself when it is; else its Steiner points
    less those to blame, dropped round by round (``_with_points`` unrefined, ``DENSITY_PRUNE_ROUNDS``
    drops at most) and triangulated with the outline; else the outline's triangulation alone. Triangle meets an area
    cap by inserting circumcentres, and one beside a short segment makes a sliver of any size (0.0004
    px^2 under a cap of 56 px^2 on a corpus sheet), and under a cap near ``min_triangle_area`` most
    of its triangles are smaller than that."""
    ctx = _Context(fixed, segments, holes, params, None)
    if ctx.valid(result):
        return result
    outline = result["vertices"][:fixed]
    points = _clear_of_short_segments(result["vertices"][fixed:], outline, segments, params.min_triangle_area)
    return (_with_points(ctx, outline, points, quality=False, drops=DENSITY_PRUNE_ROUNDS)
            or ctx.mesh(outline))


def _clear_of_short_segments(points: np.ndarray, outline: np.ndarray, segments: np.ndarray,
                             min_area: float) -> np.ndarray:
    """``points`` less those a short outline segment's triangle could take as its apex under
    ``min_area``: a segment of length L needs its apex ``2 min_area / L`` from its line, so a point
    nearer the line than that and within that reach (plus L) of the segment's middle goes. Only
    segments shorter than an equilateral triangle of ``min_area``'s side are looked at (each has a
    reach past its own length; blame finds the rest): beside a 0.2 px segment that reach is 20 px
    at 2 px^2, and dropping the points there one blamed triangle at a time takes dozens of rounds."""
    start, end = outline[segments[:, 0]], outline[segments[:, 1]]
    length = np.hypot(*(end - start).T)
    keep = np.ones(len(points), dtype=bool)
    for i in np.flatnonzero(length < equilateral_side(min_area)).tolist():
        reach = 2 * min_area / max(length[i], TOL.geom_eps)
        along = (end[i] - start[i]) / max(length[i], TOL.geom_eps)
        rel = points - start[i]
        off_line = np.abs(rel[:, 0] * along[1] - rel[:, 1] * along[0])
        from_middle = np.hypot(*(points - (start[i] + end[i]) / 2).T)
        keep &= (off_line >= reach) | (from_middle >= reach + length[i])
    return points[keep]


def _small_refined(ctx: _Context, mesh: dict, count: int) -> np.ndarray | None:
    """``(k, 3)``: the refined triangles (with a vertex past the outline) of a Triangle ``mesh`` of
    ``count`` vertices that are under ``min_triangle_area``; None when the mesh is invalid for
    another reason than its vertices (no triangles, a split segment, a vertex Triangle added)."""
    tris = mesh.get("triangles")
    if tris is None or not len(tris) or len(mesh["segments"]) != len(ctx.segments) or len(mesh["vertices"]) != count:
        return None
    refined = tris[(tris >= ctx.fixed).any(axis=1)]
    return refined[triangle_areas(mesh["vertices"], refined) < ctx.params.min_triangle_area]


def _blameless(ctx: _Context, mesh: dict, base: int, count: int) -> np.ndarray | None:
    """Which of the points added after the first ``base`` vertices an invalid ``mesh`` of ``count``
    vertices does not blame: unused points and corners of refined triangles under
    ``min_triangle_area`` are to blame. None when it is invalid for another reason (a split
    segment, a vertex Triangle added, an old vertex to blame)."""
    small = _small_refined(ctx, mesh, count)
    if small is None:
        return None
    small = small.ravel()
    if (small >= ctx.fixed).any() and not (small >= base).any():
        return None
    keep = np.bincount(mesh["triangles"].ravel(), minlength=count)[base:] > 0
    keep[small[small >= base] - base] = False
    return keep


def _pushed(ctx: _Context, mesh: dict, base: int, every: np.ndarray) -> np.ndarray | None:
    """``every`` (the vertices of an invalid ``mesh``) with each point after the first ``base`` that
    is a corner of a refined triangle under ``min_triangle_area`` moved straight away from the
    opposite side to the height that area needs (as ``apex_points`` sets an apex's; the mean move,
    when in several): a conforming split point moved just off a short segment makes such a
    triangle, where one a little further in makes none. None when there is no such point."""
    small = _small_refined(ctx, mesh, len(every))
    if small is None or not (small >= base).any():
        return None
    corner = small.ravel()
    a, b = every[np.roll(small, -1, axis=1).ravel()], every[np.roll(small, -2, axis=1).ravel()]
    side = b - a
    length = np.hypot(*side.T)
    normal = np.stack([-side[:, 1], side[:, 0]], axis=1) / np.maximum(length, 1e-12)[:, None]
    height = ((every[corner] - a) * normal).sum(axis=1)  # > 0: the triangles are counter-clockwise
    rise = np.maximum(_area_height(ctx.params.min_triangle_area, length) - height, 0.0)[:, None] * normal
    mine = corner >= base
    return every + _means_at(corner[mine], rise[mine], len(every))[0]


def _smoothed(ctx: _Context, mesh: dict, angles: np.ndarray) -> Iterator[tuple[dict, np.ndarray]]:
    """``mesh`` and the valid meshes of up to ``SMOOTH_PASSES`` smoothing passes after it, stopping
    after a pass that does not raise the smallest angle by ``TOL.ladder_gain_deg``."""
    yield mesh, angles
    best = float(angles.min())
    for _ in range(SMOOTH_PASSES):
        mesh = _smooth_pass(ctx, mesh, angles, angles, TOL.min_angle_deg, SMOOTH_XTOL)
        if mesh is None:
            return
        angles = _angles(mesh)
        yield mesh, angles
        if float(angles.min()) <= best + TOL.ladder_gain_deg:
            return
        best = float(angles.min())


def _smooth_pass(ctx: _Context, mesh: dict, angles: np.ndarray, marks: np.ndarray, under: float,
                 xtol: float) -> dict | None:
    """One smoothing pass (``smooth_step`` on the vertices near triangles whose ``marks`` are under
    ``under``) and the rebuild after it; None when no bad triangle (``angles``) has a vertex to
    move, nothing moved, or the rebuilt mesh is not valid."""
    if not (mesh["triangles"][angles < TOL.min_angle_deg] >= ctx.fixed).any():  # nothing to move there
        return None
    moved = smooth_step(mesh["vertices"], mesh["triangles"], marks, ctx.fixed, ctx.params.min_triangle_area,
                        xtol, SMOOTH_STEPS, under)
    if moved is None:
        return None
    rebuilt = ctx.rebuilt(mesh, moved)
    return rebuilt if ctx.valid(rebuilt) else None


def triangle_options(budget: int, angle: float = 0.0, area: float | None = None, *,
                     split_outline: bool = False) -> str:
    """Triangle's switches: 'p' PSLG, 'Q' quiet, 'YY' no Steiner points on segments (unless
    ``split_outline``), 'S' Steiner budget, 'q' minimum angle (when > 0), 'a' maximum area."""
    opts = f"pQS{budget}" if split_outline else f"pQYYS{budget}"
    if angle > 0:
        opts += f"q{angle:g}"
    if area is not None:
        opts += f"a{area:g}"
    return opts


def triangle_input(vertices: np.ndarray, segments: np.ndarray, holes: np.ndarray | None = None) -> dict:
    """Triangle's input as contiguous float64 / int32 arrays, segment indices checked."""
    data = {"vertices": np.ascontiguousarray(vertices, dtype=np.float64),
            "segments": np.ascontiguousarray(segments, dtype=np.int32)}
    if len(data["segments"]) and (data["segments"].min() < 0 or data["segments"].max() >= len(vertices)):
        raise InputError("TRIANGULATION_FAILED", "segment refers to a missing vertex",
                         {"vertex_count": len(vertices)})
    if holes is not None:
        data["holes"] = np.ascontiguousarray(holes, dtype=np.float64).reshape(-1, 2)
    return data


def _angles(result: dict) -> np.ndarray:
    """``(t,)`` smallest angle of each triangle of a Triangle result, degrees."""
    return min_angles(result["vertices"], result["triangles"])


class _Context:
    """The fixed inputs of one ``improve`` call and Triangle runs over them."""

    def __init__(self, fixed: int, segments: np.ndarray, holes: np.ndarray | None, params: ContourParams,
                 area: float | None, regions: np.ndarray | None = None) -> None:
        self.fixed, self.segments, self.holes, self.params, self.area = fixed, segments, holes, params, area
        self.regions = regions
        self._fixed_input = triangle_input(np.zeros((fixed, 2)), segments, holes)  # checked once: every mesh keeps them
        self._segment_pairs = np.asarray(segments, dtype=np.int64)  # one layout for delaunay_flips

    def mesh(self, vertices: np.ndarray, quality: bool = False) -> dict:
        """Triangle on ``vertices`` (all kept; the first ``fixed`` are the outline) with the outline
        segments unsplit; with ``regions`` (x, y, island, 0 rows), each triangle's island in
        ``triangle_attributes`` ('A')."""
        opts = triangle_options(max(self.params.max_vertices - len(vertices), 0),
                                TOL.min_angle_deg if quality else 0.0, self.area)
        data = {**self._fixed_input, "vertices": np.ascontiguousarray(vertices, dtype=np.float64)}
        if self.regions is not None:
            data["regions"], opts = self.regions, opts + "A"
        return triangle.triangulate(data, opts)

    def rebuilt(self, mesh: dict, moved: np.ndarray) -> dict:
        """``mesh`` with its vertices ``moved`` (its triangles kept counter-clockwise), made
        constrained Delaunay again: by edge flips (``delaunay_flips``: Triangle's triangulation of
        the same points without a call to it, each triangle keeping its island label), or by
        Triangle when an area cap may need new points, ``mesh`` has no island labels to keep (the
        input mesh of several islands) or the flips do not finish."""
        if self.area is None and (self.regions is None or "triangle_attributes" in mesh):
            tris, done = delaunay_flips(moved, mesh["triangles"], self._segment_pairs)
            if done:
                return {**mesh, "vertices": moved, "triangles": tris.astype(mesh["triangles"].dtype, copy=False)}
        return self.mesh(moved)

    def valid(self, result: dict) -> bool:
        """Segments kept whole, every vertex used, refined triangles large enough, within budget."""
        tris = result.get("triangles")
        if tris is None or not len(tris) or len(result["segments"]) != len(self.segments):
            return False
        if len(result["vertices"]) > self.params.max_vertices:
            return False
        smallest, all_used = refined_check(result["vertices"], tris, self.fixed)
        return all_used and smallest >= self.params.min_triangle_area


def triangle_areas(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """``(t,) float`` unsigned triangle areas."""
    corners = vertices[tris]  # one gather, (t, 3, 2)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    return 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def min_angles(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """``(t,) float`` smallest interior angle of each triangle, degrees."""
    return _degrees(*angle_terms(np.asarray(vertices, dtype=float), np.asarray(tris)))


def _degrees(area2: np.ndarray, dots: np.ndarray) -> np.ndarray:
    """Smallest angles from ``contour_kernels._angle_terms`` (numpy's arctan2, as the angles always were)."""
    return np.degrees(np.arctan2(area2, dots))


# ---------------------------------------------------------------- apex points


def apex_points(vertices: np.ndarray, tris: np.ndarray, bad: np.ndarray, segments: np.ndarray,
                min_area: float, min_deg: float = APEX_MIN_DEG) -> np.ndarray:
    """``(k, 2)`` interior points for the ``bad`` triangles (counter-clockwise): one per outline
    segment (directed, solid on its left) of a bad triangle, on the segment's bisector on the
    solid's side, as high as an equilateral triangle but at most ``APEX_SHARE`` of the way to the
    outline the bisector meets first and high enough for ``min_area``, its base angles at least
    ``min_deg`` with that (and under 90 % of the way there); and the circumcentre of a
    bad triangle with neither a segment nor an interior vertex (what smoothing cannot reach) when
    the way there from its centroid crosses no segment. None closer than half its height (half the
    circumradius) to a vertex or a point kept before it (``contour_kernels.apex_candidates`` and
    ``spread_points``; numpy's arctangent here)."""
    mid, inward, length, clear, centres, radius = apex_candidates(vertices, tris[bad], segments.astype(np.int64),
                                                                  SQRT3_2)
    height = np.maximum(np.minimum(SQRT3_2 * length, APEX_SHARE * clear), _area_height(min_area, length))
    ok = (height < 0.9 * clear) & (np.degrees(np.arctan2(2 * height, length)) >= min_deg)
    points = np.concatenate([mid[ok] + inward[ok] * height[ok, None], centres])
    return spread_points(points, np.concatenate([height[ok], radius]), vertices)


def equilateral_side(area: float) -> float:
    """The side of the equilateral triangle of ``area``: a segment shorter than it has no room for
    a well-shaped triangle that large."""
    return math.sqrt(4 * area / math.sqrt(3))


def _area_height(min_area: float, base: np.ndarray) -> np.ndarray:
    """The height over a side of length ``base`` at which a triangle has ``min_area`` (and
    ``AREA_MARGIN`` more, so rounding keeps it over)."""
    return 2 * AREA_MARGIN * min_area / np.maximum(base, 1e-12)


def conforming_points(vertices: np.ndarray, segments: np.ndarray, holes: np.ndarray | None, params: ContourParams,
                      area: float | None) -> np.ndarray:
    """``(k, 2)`` interior points from Triangle's conforming 20-degree refinement of the outline
    (``vertices``, ``segments``), which may split segments: its interior Steiner points as they
    are, and each point it put on a segment moved off it into the solid by ``CONFORM_SHARE`` of
    the distance to its nearer neighbour on the segment, or of the way across to the outline where
    that is nearer (a thin part: moved the full step, a point lands on the far side, and Triangle
    given a point on an outline vertex corrupts its memory). Where refinement grades the mesh down
    to a short segment, those points grade it the same way one row inside, where they may stand."""
    budget = max(params.max_vertices - len(vertices), 0)
    conf = triangle.triangulate(triangle_input(vertices, segments, holes),
                                triangle_options(budget, TOL.min_angle_deg, area, split_outline=True))
    points, n = conf.get("vertices", vertices), len(vertices)
    if len(points) <= n or "triangles" not in conf:
        return np.zeros((0, 2))
    ends = np.concatenate([conf["segments"], conf["segments"][:, ::-1]]).astype(np.int64)
    ends = ends[ends[:, 0] >= n]  # (split point, its neighbour on the segment), two per split point
    ends = ends[np.bincount(ends[:, 0], minlength=len(points))[ends[:, 0]] == 2]  # never misaligned
    ends = ends[np.lexsort((ends[:, 1], ends[:, 0]))]
    split, before, after = ends[::2, 0], ends[::2, 1], ends[1::2, 1]
    here = points[split]
    along = points[after] - points[before]
    normal = np.stack([-along[:, 1], along[:, 0]], axis=1) / np.maximum(np.hypot(*along.T), 1e-12)[:, None]
    toward = _star_centroids(points, conf["triangles"])[split] - here  # the solid's side of the segment
    normal *= np.where((normal * toward).sum(axis=1) < 0, -1.0, 1.0)[:, None]
    gap = np.minimum(np.hypot(*(here - points[before]).T), np.hypot(*(here - points[after]).T))
    across = ray_clearances(here, normal, vertices[segments[:, 0]], vertices[segments[:, 1]], gap)
    room = CONFORM_SHARE * gap < 0.9 * across
    inner = np.ones(len(points), dtype=bool)
    inner[:n] = False
    inner[split] = False
    return np.concatenate([(here + normal * (CONFORM_SHARE * gap)[:, None])[room], points[inner]])


def _star_centroids(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """``(n, 2)`` mean of the centroids of the triangles at each point (the point itself if none)."""
    mean, counts = _means_at(tris.ravel(), np.repeat(points[tris].mean(axis=1), 3, axis=0), len(points))
    return np.where(counts[:, None] > 0, mean, points)


def _means_at(index: np.ndarray, values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(``(count, 2)`` mean of the ``values`` rows at each index, 0 where none; how many there are)."""
    counts = np.bincount(index, minlength=count).astype(float)
    # bincount adds the weights in their order, as np.add.at did (same sums), at a fraction of its cost
    sums = np.stack([np.bincount(index, weights=values[:, k], minlength=count) for k in (0, 1)], axis=1)
    return sums / np.maximum(counts, 1)[:, None], counts


# ---------------------------------------------------------------- smoothing


def smooth_step(vertices: np.ndarray, tris: np.ndarray, angles: np.ndarray, fixed: int,
                min_area: float, xtol: float = SMOOTH_XTOL, steps: int = SMOOTH_STEPS,
                under: float = TOL.min_angle_deg) -> np.ndarray | None:
    """One pass moving the interior vertices (index >= ``fixed``) around the triangles whose
    ``angles`` (per triangle) are under ``under`` each where the smallest angle of its star is
    largest, its triangles kept counter-clockwise and at least ``min_area``
    (``contour_kernels.optimal_smoothing``: each vertex's search ``steps`` long at most, stopping
    at ``xtol``). None when nothing moves."""
    moved, out = optimal_smoothing(vertices, tris, angles, fixed, under, min_area, xtol, steps)
    return out if moved else None
