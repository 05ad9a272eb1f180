"""The angle ladder's early stop and the hole points of ``pipelines.contour.triangulate``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipelines import contour
from pipelines.contour import _hole_points, _ring_segments, sprite_outline, triangulate
from pipelines.contour_kernels import group_minima
from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_refine import min_angles, triangle_areas, vertex_islands
from pipelines.contour_rings import Ring
from tests.pipelines.test_contour_refine import CRAB, SHADOW, holes_sprite, long_short_sprite, sliver_sprite

WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def sheet_sprite(n: int = 6, cell: int = 40) -> np.ndarray:
    """A sheet of slivers, thin ellipses and framed slots: many triangles Triangle leaves under 20
    degrees next to the outline (more than refinement takes on), as on the corpus's large sheets."""
    img = np.zeros((n * cell, n * cell, 4), np.uint8)
    for i in range(n):
        for j in range(n):
            x, y = j * cell, i * cell
            kind = (i * n + j) % 3
            if kind == 0:
                pts = [[x + 3, y + 20], [x + 37, y + 14 + i % 3], [x + 37, y + 26]]
                cv2.fillPoly(img, [np.array(pts, np.int32)], WHITE)
            elif kind == 1:
                cv2.ellipse(img, (x + 20, y + 20), (17, 5 + j % 3), 15 * i, 0, 360, WHITE, -1)
            else:
                cv2.rectangle(img, (x + 4, y + 4), (x + 35, y + 35), WHITE, -1)
                cv2.rectangle(img, (x + 10, y + 15), (x + 30 - i, y + 18), CLEAR, -1)
    return img


def joined_sheet(n: int = 6, cell: int = 40) -> np.ndarray:
    """``sheet_sprite`` with its cells joined by a bar along each row and one down the left: one
    island with the sheet's many slivers (a rung's stop is decided island by island)."""
    img = sheet_sprite(n, cell)
    for i in range(n):
        cv2.rectangle(img, (0, i * cell + 19), (n * cell - 1, i * cell + 21), WHITE, -1)
    cv2.rectangle(img, (0, 0), (2, n * cell - 1), WHITE, -1)
    return img


def rungs_run(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The angles of the ladder's rungs (each a refinement of the outline's triangulation) that
    ``triangulate`` runs from now on."""
    calls: list[float] = []
    run = contour._refine_triangle

    def counting(*args, **kwargs):
        calls.append(args[1])
        return run(*args, **kwargs)

    monkeypatch.setattr(contour, "_refine_triangle", counting)
    return calls


SPRITES = {"sheet6": lambda: sheet_sprite(6), "sheet5": lambda: sheet_sprite(5, 48), "joined6": joined_sheet,
           "joined5": lambda: joined_sheet(5, 48), "sliver": sliver_sprite, "long_short": long_short_sprite,
           "holes": holes_sprite}


@pytest.mark.parametrize("name", list(SPRITES))
def test_ladder_stop_gives_the_full_ladder_mesh(name, monkeypatch):
    params = ContourParams()
    outline = sprite_outline(SPRITES[name]()[..., 3], params)
    calls = rungs_run(monkeypatch)
    direct = triangulate(outline, params)
    stopped = list(calls)
    calls.clear()
    monkeypatch.setattr(contour, "_outline_bound", lambda *args: False)
    full = triangulate(outline, params)
    assert np.array_equal(direct.vertices, full.vertices)
    assert np.array_equal(direct.triangles, full.triangles)
    assert all(np.array_equal(a, b) for a, b in zip(direct.loops, full.loops, strict=True))
    if name.startswith("joined"):  # the stop fired: one rung instead of two
        assert stopped == [TOL.angle_ladder[0]] and calls == list(TOL.angle_ladder[:2])
    else:  # a sheet's cells each hold too few slivers for the stop: the next rung meshes those short of 20
        assert stopped == calls


@pytest.mark.parametrize("name", list(SPRITES))
@pytest.mark.parametrize("area", [None, 6.0])
def test_a_rung_refines_the_outlines_triangulation_as_triangle_refines_the_outline(name, area):
    """Each rung refines the outline's constrained Delaunay triangulation ('r') instead of building
    it again: the same vertices and as many triangles, with the same smallest angle, as Triangle on
    the outline with the same switches (holes, eaten once in the triangulation, stay empty)."""
    params = ContourParams()
    vertices, segments, holes = contour.outline_pslg(sprite_outline(SPRITES[name]()[..., 3], params))
    cdt = contour._run_triangle(vertices, segments, holes, 0.0, None, 0)
    for angle in TOL.angle_ladder:
        direct = contour._run_triangle(vertices, segments, holes, angle, area, 5000)
        refined = contour._refine_triangle(cdt, angle, area, 5000)
        assert len(refined["triangles"]) == len(direct["triangles"])
        assert np.allclose(np.sort(refined["vertices"], axis=0), np.sort(direct["vertices"], axis=0), atol=1e-9)
        assert min_angles(refined["vertices"], refined["triangles"]).min() == pytest.approx(
            min_angles(direct["vertices"], direct["triangles"]).min(), abs=1e-9)


def dense_hole_points(vertices: np.ndarray, segments: np.ndarray, outline: list[Ring]) -> np.ndarray:
    """The hole points by the plain rule: every segment against every hole's box."""
    sizes = [len(r.points) for r in outline]
    starts = np.cumsum([0, *sizes])
    a, b = vertices[segments[:, 0]], vertices[segments[:, 1]]
    out = []
    for h, ring in enumerate(outline):
        if not ring.is_hole:
            continue
        own = np.arange(starts[h], starts[h + 1])
        longest = own[int(np.argmax(np.hypot(*(b[own] - a[own]).T)))]
        d = b[longest] - a[longest]
        origin = (a[longest] + b[longest]) / 2
        ray = np.array([d[1], -d[0]]) / np.hypot(*d)
        lo, hi = ring.points.min(0) - TOL.geom_eps, ring.points.max(0) + TOL.geom_eps
        first = np.inf
        for s in range(len(segments)):
            if s == longest or (np.minimum(a[s], b[s]) > hi).any() or (np.maximum(a[s], b[s]) < lo).any():
                continue
            e, rel = b[s] - a[s], a[s] - origin
            den = ray[0] * e[1] - ray[1] * e[0]
            if abs(den) <= 1e-12:
                continue
            t = (rel[0] * e[1] - rel[1] * e[0]) / den
            u = (rel[0] * ray[1] - rel[1] * ray[0]) / den
            if t > TOL.geom_eps and 0 <= u <= 1:
                first = min(first, t)
        out.append(origin + ray * first / 2)
    return np.array(out)


@pytest.mark.parametrize("name", ["sheet6", "holes"])
def test_hole_points_match_the_dense_rule(name):
    outline = sprite_outline(SPRITES[name]()[..., 3], ContourParams())
    assert any(r.is_hole for r in outline)
    vertices = np.concatenate([r.points for r in outline])
    segments = _ring_segments([len(r.points) for r in outline])
    assert np.allclose(_hole_points(vertices, segments, outline), dense_hole_points(vertices, segments, outline),
                       rtol=0, atol=1e-9)


# a random sprite's outline (one island, four holes): the 20-degree rung leaves 14 triangles under 20
# degrees (9.1 at the worst), the 10-degree rung 10.1 degrees at its worst but 33 under 20, more than
# refinement takes on
HOLED = [[[85.922, 19.897], [87.0, 49.0], [96.524, 58.524], [115.331, 52.646], [102.404, 105.435], [67.098, 91.705],
          [65.427, 96.72], [15.212, 72.146], [21.196, 64.965], [18.259, 40.494], [27.237, 34.508], [37.52, 47.875],
          [43.784, 30.872], [38.756, 22.073], [61.216, 28.49]],
         [[89.0, 83.0], [90.0, 84.0], [93.0, 84.0], [94.0, 83.0], [94.0, 80.0], [93.0, 79.0], [90.0, 79.0],
          [89.0, 80.0]],
         [[55.4, 61.2], [61.636, 77.818], [64.714, 73.714], [66.644, 68.89], [55.935, 60.129]],
         [[69.0, 57.0], [70.0, 58.0], [73.0, 58.0], [74.0, 57.0], [74.0, 54.0], [73.0, 53.0], [70.0, 53.0],
          [69.0, 54.0]],
         [[45.0, 51.0], [45.0, 54.0], [47.0, 56.0], [49.0, 56.0], [52.818, 53.455], [55.0, 60.0], [56.217, 56.348],
          [64.154, 58.615], [65.571, 58.143], [50.333, 49.0], [47.0, 49.0]]]


def test_refinement_starts_from_a_rung_it_can_take(monkeypatch):
    outline = [Ring(np.array(points), i > 0, 0) for i, points in enumerate(HOLED)]
    mesh = triangulate(outline, ContourParams())
    assert min_angles(mesh.vertices, mesh.triangles).min() > 14.0
    assert np.array_equal(mesh.vertices[:sum(map(len, HOLED))], np.concatenate(HOLED))
    monkeypatch.setattr(contour, "MAX_BAD", 10**9)  # every rung counts as one refinement takes: the best angle wins
    kept = triangulate(outline, ContourParams())
    assert min_angles(kept.vertices, kept.triangles).min() < 11.0


def ladder_minima(outline: list[Ring], params: ContourParams) -> tuple[np.ndarray, np.ndarray]:
    """(each island's smallest angle in the ladder's mesh of ``outline``, each island's rung)."""
    vertices, segments, holes = contour.outline_pslg(outline)
    outline_island = np.repeat([r.island for r in outline], [len(r.points) for r in outline])
    ladder = contour._ladder(vertices, segments, holes, None, params.max_vertices, params, False,
                             (outline_island, np.zeros(0, dtype=np.int64)))
    mesh, angles = contour._by_island(ladder, len(vertices), segments, params.max_vertices)
    tri_island = vertex_islands(mesh["triangles"], outline_island, len(mesh["vertices"]))[mesh["triangles"][:, 0]]
    assert np.allclose(angles, min_angles(mesh["vertices"], mesh["triangles"]))
    return group_minima(tri_island, angles, int(outline_island.max()) + 1), ladder.choice


def test_each_island_takes_its_own_rung():
    """The 16 px crab's 20-degree rung makes triangles under min_triangle_area; the shadow's does not
    (16.1 degrees there, 10.1 at the 10-degree rung). Side by side on one sheet, the crab no longer
    costs the shadow its 20-degree rung (the whole mesh took the 10-degree one): each island meshes
    as it does alone."""
    params = ContourParams()
    crab, shadow = np.array(CRAB), np.array(SHADOW) + np.array([30.0, 0.0])
    (crab_alone,), (crab_rung,) = ladder_minima([Ring(crab, False, 0)], params)
    (shadow_alone,), (shadow_rung,) = ladder_minima([Ring(shadow, False, 0)], params)
    together, rungs = ladder_minima([Ring(crab, False, 0), Ring(shadow, False, 1)], params)
    assert (crab_rung, shadow_rung) == (1, 0) and rungs.tolist() == [1, 0]
    assert together.tolist() == pytest.approx([crab_alone, shadow_alone], abs=1e-9)
    assert shadow_alone > 16.0


def test_a_rung_without_an_islands_triangles_cannot_supply_it(monkeypatch):
    """Triangle leaving an island bare (a misplaced hole point would) must not make that rung the
    island's best (its smallest angle there reads inf); the other island keeps what it gets alone."""
    params = ContourParams()
    crab, shadow = np.array(CRAB), np.array(SHADOW) + np.array([30.0, 0.0])
    (crab_alone,), _ = ladder_minima([Ring(crab, False, 0)], params)
    run = contour._refine_triangle

    def bare_shadow(*args, **kwargs):
        result = run(*args, **kwargs)
        if args[1] == TOL.angle_ladder[0]:  # the top rung loses the shadow's triangles
            corners = result["vertices"][result["triangles"]].mean(axis=1)
            result["triangles"] = result["triangles"][corners[:, 0] < 30.0]
        return result

    monkeypatch.setattr(contour, "_refine_triangle", bare_shadow)
    together, rungs = ladder_minima([Ring(crab, False, 0), Ring(shadow, False, 1)], params)
    assert rungs[1] != 0 and np.isfinite(together[1])  # the shadow from a rung that meshes it
    assert together[0] == pytest.approx(crab_alone, abs=1e-9)


def test_the_one_rung_fallback_refines_the_same_triangulation(monkeypatch):
    """When the islands' rungs together exceed ``max_vertices``, ``_refined`` takes one rung for the
    whole sheet: that ladder refines the triangulation the first one built (one build, not two) and
    gives what a ladder on the whole sheet as one island gives."""
    params = ContourParams()
    crab, shadow = np.array(CRAB), np.array(SHADOW) + np.array([30.0, 0.0])
    outline = [Ring(crab, False, 0), Ring(shadow, False, 1)]
    vertices, segments, holes = contour.outline_pslg(outline)
    whole, _ = contour._by_island(contour._ladder(vertices, segments, holes, None, params.max_vertices, params, False),
                                  len(vertices), segments, params.max_vertices)
    builds: list[float] = []
    run, by_island = contour._run_triangle, contour._by_island

    def counting(*args, **kwargs):
        builds.append(args[3])
        return run(*args, **kwargs)

    def over_budget_once(ladder, *args):
        if ladder.choice.tolist() == [1, 0]:  # the islands' own rungs (as in the test above): say they do not fit
            return None, None
        return by_island(ladder, *args)

    monkeypatch.setattr(contour, "_run_triangle", counting)
    monkeypatch.setattr(contour, "_by_island", over_budget_once)
    monkeypatch.setattr(contour, "improve_islands", lambda best, *args: best)  # the ladder's mesh, unimproved
    mesh, _ = contour._refined(outline, (vertices, segments, holes), params)
    assert builds == [0.0]
    assert np.array_equal(mesh["vertices"], whole["vertices"]) and np.array_equal(mesh["triangles"], whole["triangles"])


SHORT_SEGMENT = [[43.8, 50.82], [40.65, 55.14], [38.91, 65.24], [26.94, 60.08], [27.9, 36.59], [28.1, 36.54],
                 [46.48, 23.72], [58.41, 39.55]]  # 0.21 px from 4 to 5


@pytest.mark.parametrize("split", [False, True])
def test_an_area_cap_keeps_only_points_that_respect_min_triangle_area(split):
    """Triangle meets the density's area cap (8 px^2 here) by inserting circumcentres; one beside the
    0.21 px segment makes a 0.61 px^2 triangle, and so do the 20 and 10 degree rungs under the cap
    (0.48, 0.12 px^2), so the unrefined rung is the one taken. It keeps the cap's other
    points (unsplit: ``capped_kept_valid``; split: the outline's own triangulation where the points
    fail), so no triangle with an interior vertex is under ``min_triangle_area``."""
    params = ContourParams(internal_vertex_density=100, density_scaling_factor=100, min_triangle_area=2.0,
                           outline_steiner=split)
    outline = [Ring(contour._orient(np.array(SHORT_SEGMENT), False), False, 0)]
    vertices, segments, holes = contour.outline_pslg(outline)
    area = contour._max_area(outline, params)
    assert area == 8.0
    capped = contour._refine_triangle(contour._run_triangle(vertices, segments, holes, 0.0, None, 0), 0.0, area, 5000)
    refined = (capped["triangles"] >= len(vertices)).any(axis=1)
    assert triangle_areas(capped["vertices"], capped["triangles"][refined]).min() < 1.0  # the sliver Triangle makes
    ladder, _ = contour._by_island(contour._ladder(vertices, segments, holes, area, 5000, params, split),
                                   len(vertices), segments, 5000)
    steiner = (ladder["triangles"] >= len(vertices)).any(axis=1)
    assert not steiner.any() or triangle_areas(ladder["vertices"], ladder["triangles"][steiner]).min() >= 2.0
    mesh = triangulate(outline, params)
    steiner = (mesh.triangles >= len(mesh.hull)).any(axis=1)  # split, the hull holds the points kept on segments
    assert steiner.any() and triangle_areas(mesh.vertices, mesh.triangles[steiner]).min() >= params.min_triangle_area
