"""Sprite mesher triangle quality: the angle the outline forces, outline tidying, outline_steiner."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import triangle
from scipy.optimize import minimize

from pipelines import contour, contour_metrics, contour_refine, contour_tidy
from pipelines.contour import _orient, mesh_sprite, triangulate
from pipelines.contour_geometry import holds_ring
from pipelines.contour_kernels import tidy
from pipelines.contour_metrics import forced_min_angle, outline_rings
from pipelines.contour_params import TOL, ContourParams, make_params
from pipelines.contour_refine import min_angles, triangle_areas
from pipelines.contour_rings import Ring, signed_area
from pipelines.contour_tidy import tidy_outline
from pipelines.errors import InputError
from tests.pipelines.test_contour import assert_covers, assert_hull_first, circle_sprite, png, thin_sprite


def box(w: float, h: float) -> np.ndarray:
    return _orient(np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float), False)


def test_forced_angle_of_simple_outlines():
    # a square: the triangles on two opposite sides share its height, so 45 (the diagonal split)
    assert forced_min_angle([box(10, 10)]) == pytest.approx(45.0, abs=1e-6)
    # a long thin strip: the triangles on the two long sides share its width, so atan(4 / 100),
    # which the diagonal split reaches (clearance alone allowed atan(8 / 100))
    assert forced_min_angle([box(100, 4)]) == pytest.approx(np.degrees(np.arctan2(4, 100)), abs=1e-6)
    # without the pairs condition: corners, grading and clearance only (what the bench compares with)
    assert forced_min_angle([box(10, 10)], pairs=False) == pytest.approx(60.0)
    assert forced_min_angle([box(100, 4)], pairs=False) == pytest.approx(np.degrees(np.arctan2(8, 100)), abs=1e-6)
    # a 30 degree corner forces 30
    tri = _orient(np.array([[0, 0], [100, 0], [100, 100 * np.tan(np.radians(30))]]), False)
    assert forced_min_angle([tri]) == pytest.approx(30.0, abs=1e-6)
    # a tiny segment next to long ones forces a small angle unless segments may be split
    clipped = _orient(np.array([[0, 0], [100, 0], [100, 50], [99.99, 50.5], [0, 50]], dtype=float), False)
    assert forced_min_angle([clipped]) < 15.0
    assert forced_min_angle([clipped], split_outline=True) == pytest.approx(60.0)


def test_forced_angle_pairs_bound_is_reached_and_not_beaten():
    """The pairs condition is tight on strips (the diagonal split reaches it) and no mesh of the
    1 x 3 pixel strips of a 16 px sprite beats it (interior points anywhere, searched on a grid)."""
    for w, h in ((10, 10), (100, 4), (40, 8), (3, 1)):
        ring = box(w, h)
        bound = forced_min_angle([ring])
        diagonal = min_angles(ring, np.array([[0, 1, 2], [0, 2, 3]])).min()
        assert diagonal == pytest.approx(bound, abs=1e-6)
    ring = box(3, 1)
    bound = forced_min_angle([ring])
    xs, ys = np.meshgrid(np.linspace(0.05, 2.95, 59), np.linspace(0.05, 0.95, 19))
    for x, y in zip(xs.ravel(), ys.ravel(), strict=True):  # one interior point: a fan of four triangles
        fan = np.vstack([ring, [[x, y]]])
        assert min_angles(fan, np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])).min() <= bound + 1e-9



NOTCH = [[0, 0], [100, 0], [100, 30], [35, 30], [30, 10], [25, 30], [0, 30]]  # a V notch to 10 above the base


def test_forced_angle_shadow_of_a_notch_tip_over_a_long_segment():
    """The base's one triangle must keep its apex under the notch's tip (else the tip is inside it),
    and the side from a base corner to that apex then passes the tip so closely that the triangle
    beyond it cannot reach the angle the pairs and clearance conditions allow. The shadow
    condition finds a bound far below theirs, the same from any first vertex and mirrored,
    and no mesh found by a search (random interior points, then Nelder-Mead) or by the mesher beats
    it. (On the real sprite where this was found the bound was 19.3 degrees, the mesh 9.7.)"""
    ring = _orient(np.array(NOTCH, dtype=float), False)
    bound = forced_min_angle([ring])
    assert bound < 12.0 < 18.0 < forced_min_angle([ring], shadows=False, strips=False)
    mirrored = _orient(np.array([[100 - x, y] for x, y in NOTCH], dtype=float), False)
    assert forced_min_angle([mirrored]) == pytest.approx(bound, abs=1e-3)
    assert forced_min_angle([np.roll(ring, 3, axis=0)]) == pytest.approx(bound, abs=1e-3)  # another first vertex
    mesh = contour.triangulate([Ring(ring, False, 0)], make_params({}))
    assert 8.0 < min_angles(mesh.vertices, mesh.triangles).min() <= bound
    assert _searched_best(ring, np.random.default_rng(0)) <= bound



def test_forced_angle_shadow_skips_a_side_that_is_an_outline_segment():
    """A thin triangle's only triangle is itself, its sides outline segments: nothing lies past
    them, so another island's vertex just beyond a side forces nothing (counted, it would claim
    about 10 degrees against the 19.1 the triangle has)."""
    a, c = np.array([0.0, 0.0]), np.array([15.0, 5.2])
    tri = _orient(np.array([a, [30.0, 0.0], c]), False)
    along = (c - a) / np.linalg.norm(c - a)
    out = np.array([-along[1], along[0]])
    corner = a + 6 * along + 0.1 * out
    square = _orient(np.array([corner, corner + 3 * out, corner + 3 * out + 3 * along, corner + 3 * along]), False)
    smallest = float(min_angles(tri, np.array([[0, 1, 2]])).min())
    assert forced_min_angle([tri, square]) == pytest.approx(smallest, abs=1e-6)


def notched_bar(rng: np.random.Generator) -> np.ndarray:
    """A bar with one to three V notches down from its top edge, tips at random depths, and a
    slanted end or two: long segments with vertices near them."""
    w, h = rng.uniform(40, 200), rng.uniform(15, 60)
    top, right = [], w
    for x in np.sort(rng.uniform(12, w - 12, rng.integers(1, 4)))[::-1]:
        if right - x <= 2:
            continue
        half = rng.uniform(0.5, min(7.5, right - x))
        top += [[x + half, h], [x + rng.uniform(-half + 0.2, half - 0.2), rng.uniform(2, h - 2)], [x - half, h]]
        right = x - half - 1
    ring = np.array([[rng.uniform(0, 10) * (rng.uniform() < 0.5), 0], [w, 0], [w, h], *top, [0, h]], dtype=float)
    return _orient(ring, False)


def test_forced_angle_is_never_beaten_by_the_mesher_on_notched_bars():
    """The bound is an upper bound: on random notched bars (where the shadow condition lowers it
    on most), the mesher's smallest angle never exceeds it."""
    rng = np.random.default_rng(7)
    lowered = 0
    for _ in range(40):
        ring = notched_bar(rng)
        mesh = contour.triangulate([Ring(ring, False, 0)], make_params({}))
        bound = forced_min_angle([ring])
        assert min_angles(mesh.vertices, mesh.triangles).min() <= bound + 1e-9
        lowered += bound < forced_min_angle([ring], shadows=False, strips=False) - 1e-6
    assert lowered >= 15


SPEAR = [[33.5161, 3.0323], [42.2632, 20.5263], [39.0, 122.4286], [25.8403, 124.3085], [20.8462, 16.9692]]
ROD = [[9.8571, 0.0], [13.8966, 7.069], [12.9091, 26.8182], [14.0, 29.0], [14.0, 31.0], [12.0, 33.0], [8.0, 33.0],
       [6.0, 31.0], [6.0, 28.6667], [12.0, 23.6667], [12.0, 8.75], [7.9756, 1.7073], [5.3077, 6.1538], [9.0, 8.0],
       [9.0, 11.0], [0.0, 11.0], [0.0, 4.5], [1.75, 5.375], [5.3333, 0.0]]


@pytest.mark.parametrize("ring", [SPEAR, ROD], ids=["spear", "rod"])
def test_forced_angle_strips_bound_tapered_strips_where_the_mesher_meets_it(ring):
    """On a tapered strip the pairs condition lets the two long sides' isosceles cores meet corner
    to side, which no triangulation allows: the strips condition (the triangles past each
    triangle's free sides kept apart too) brings the bound down to the shared apex the mesher
    finds (the outlines of two corpus sprites; on the rod the triangle past the apex's sides at
    one end is past both segments' triangles, which the condition must allow), and neither the
    mesher nor a search beats it."""
    ring = _orient(np.array(ring, dtype=float), False)
    bound, pairs_only = forced_min_angle([ring]), forced_min_angle([ring], strips=False)
    assert bound < pairs_only - 0.1
    mesh = contour.triangulate([Ring(ring, False, 0)], make_params({}))
    assert bound - 2e-3 <= min_angles(mesh.vertices, mesh.triangles).min() <= bound
    if len(ring) == len(SPEAR):
        assert _searched_best(ring, np.random.default_rng(1)) <= bound


THEME_RING = ([[68.9048, 0.0], [100.1568, 17.7376], [108.0, 45.5455], [108.0, 68.9048], [90.2624, 100.1568],
               [62.4545, 108.0], [39.0952, 108.0], [7.8432, 90.2624], [0.0, 62.4545], [0.0, 39.0952],
               [17.7376, 7.8432], [45.5455, 0.0]],
              [[17.2386, 25.3276], [6.3953, 55.886], [25.3276, 90.7614], [55.886, 101.6047], [90.7614, 82.6724],
               [101.6047, 52.114], [82.6724, 17.2386], [52.114, 6.3953]])


@pytest.fixture(scope="module")
def theme_ring() -> tuple[list[Ring], float]:
    """The theme ring's outline and its forced angle (computed once: ~9 s, the strips condition
    on a ring whose every segment pair is near the bound)."""
    outer, hole = (_orient(np.array(r, dtype=float), k == 1) for k, r in enumerate(THEME_RING))
    return [Ring(outer, False, 0), Ring(hole, True, 0)], forced_min_angle([outer, hole])


@pytest.mark.parametrize("passes", [0, contour_refine.POLISH_PASSES])
def test_polishing_takes_the_smoothing_to_the_bound_on_a_ring(passes, theme_ring, monkeypatch):
    """kivy's theme ring (a 12-gon round an octagonal hole, a corpus sprite's outline): smoothing
    at its search tolerance stops 0.009 degrees under what the outline forces (19.066); the
    polishing passes, each vertex's search run finer, reach it to 1e-3 and do not beat it."""
    monkeypatch.setattr(contour_refine, "POLISH_PASSES", passes)
    outline, bound = theme_ring
    mesh = contour.triangulate(outline, make_params({}))
    reached = min_angles(mesh.vertices, mesh.triangles).min()
    assert reached <= bound
    assert (reached >= bound - 1e-3) == (passes > 0)


FENCE = ([[63.3333, 0.0], [67.0, 5.5], [67.0, 62.0], [0.0, 62.0], [0.0, 0.0]],
         [[2.0, 53.0], [7.5, 53.0], [9.0, 56.0], [11.5, 51.0], [16.3438, 54.875], [19.1429, 51.1429],
          [23.3333, 55.3333], [25.5, 51.0], [30.5, 55.0], [32.5, 51.0], [37.5, 55.0], [39.5, 51.0], [44.5, 55.0],
          [46.5, 51.0], [51.5, 55.0], [53.5, 51.0], [58.5, 55.0], [59.8889, 52.2222], [64.0169, 53.2542],
          [65.0, 10.0], [3.0, 9.0]])


@pytest.fixture(scope="module")
def fence() -> tuple[list[Ring], float]:
    """The fence's outline and its forced angle (computed once: ~3.5 s)."""
    outer, hole = (_orient(np.array(r, dtype=float), k == 1) for k, r in enumerate(FENCE))
    return [Ring(outer, False, 0), Ring(hole, True, 0)], forced_min_angle([outer, hole])


@pytest.mark.parametrize("low", [contour_refine.APEX_MIN_DEG, contour_refine.LOW_APEX_DEG], ids=["without", "with"])
def test_a_last_start_with_flat_apexes_meets_the_bound_beside_a_long_segment(low, fence, monkeypatch):
    """bevy's fence (a frame round a picket hole, a corpus sprite's outline): between the frame and
    the hole the solid is 1 to 3 px wide along sides 44 to 67 px long, so the triangles on those
    sides can only have flat apexes (2.7 degrees, what the outline forces). The usual starts keep
    apexes of 10 degrees and more, and the mesh stays at 2.49; the last start, with the flat ones
    too, reaches the bound."""
    monkeypatch.setattr(contour_refine, "LOW_APEX_DEG", low)
    outline, bound = fence
    mesh = contour.triangulate(outline, make_params({}))
    reached = min_angles(mesh.vertices, mesh.triangles).min()
    assert reached <= bound
    assert (reached >= bound - 1e-3) == (low < contour_refine.APEX_MIN_DEG)
    assert reached > 2.4  # the usual starts' mesh is not made worse


def test_strips_pair_possible_on_a_strip_only_up_to_its_width():
    """Two long sides of a 100 x 4 strip: possible just under atan(4 / 100) (a vertex at the
    centre), impossible just over it."""
    from pipelines.contour_strips import StripSide, pair_possible

    a, b, c, d = (np.array(p, dtype=float) for p in ((0, 0), (100, 0), (100, 4), (0, 4)))
    right = np.radians([90.0, 90.0])
    one = StripSide(a, b, right, np.stack([c, d, d, c]), np.stack([a, b, c, d]))
    two = StripSide(c, d, right, np.stack([a, b, b, a]), np.stack([a, b, c, d]))
    exact = np.arctan2(4, 100)
    assert pair_possible(one, two, exact * (1 - 1e-4))
    assert not pair_possible(one, two, exact * (1 + 1e-4))

def _searched_best(ring: np.ndarray, rng: np.random.Generator) -> float:
    """The largest smallest angle of Triangle's constrained Delaunay meshes of ``ring`` with up to 4
    interior points, over random points and Nelder-Mead from some of them."""
    segments = np.column_stack([np.arange(len(ring)), np.roll(np.arange(len(ring)), -1)])
    low, high = ring.min(axis=0), ring.max(axis=0)

    def smallest(flat: np.ndarray) -> float:
        vertices = np.concatenate([ring, flat.reshape(-1, 2)])
        result = triangle.triangulate({"vertices": vertices, "segments": segments}, "pQY")
        used = np.unique(result["triangles"])
        if len(result["vertices"]) != len(vertices) or len(used) != len(vertices):  # a point outside
            return 0.0
        return float(min_angles(result["vertices"], result["triangles"]).min())

    starts = [rng.uniform(np.tile(low, k), np.tile(high, k)) for k in (1, 2, 3, 4) for _ in range(150)]
    best = max(smallest(x) for x in starts)
    for x in starts[::30]:
        solved = minimize(lambda x: -smallest(x), x, method="Nelder-Mead", options={"maxfev": 1500})
        best = max(best, -solved.fun)
    return best

def test_tidy_merges_a_short_bevel_and_drops_a_shallow_notch():
    bevel = _orient(np.array([[0, 0], [10, 0], [10, 9.9], [9.9, 10], [0, 10]], dtype=float), False)
    notch = _orient(np.array([[0, 0], [5, 0.3], [10, 0], [10, 10], [0, 10]], dtype=float), False)
    for ring, expect in ((bevel, 4), (notch, 4)):
        out, _, _, changed = tidy(ring, np.zeros(len(ring), dtype=np.int64), 1, np.ones(len(ring)), 10.0, 10.0)
        assert changed and len(out) == expect
        assert holds_ring(out, ring)  # only ever moves the outline outward


def forced(result: dict) -> float:
    return forced_min_angle(outline_rings(result), split_outline=result["metadata"]["params"]["outline_steiner"])


def test_quality_meets_the_angle_the_outline_forces_on_a_circle():
    result = mesh_sprite(png(circle_sprite()))
    assert 0 < forced(result) <= 60
    assert result["metadata"]["min_angle_deg"] >= min(19.9, forced(result))


def test_outline_steiner_splits_segments_for_quality_and_still_covers():
    img = thin_sprite()
    plain = mesh_sprite(png(img))
    split = mesh_sprite(png(img), make_params({"outline_steiner": True}))
    assert_covers(split, img[..., 3])
    assert_hull_first(split)
    md = split["metadata"]
    assert md["params"]["outline_steiner"] is True and plain["metadata"]["params"]["outline_steiner"] is False
    assert md["min_angle_deg"] >= plain["metadata"]["min_angle_deg"]
    assert md["hull_vertex_count"] >= plain["metadata"]["hull_vertex_count"]
    v, t = np.array(split["vertices"]), np.array(split["triangles"])
    assert md["min_angle_deg"] == pytest.approx(float(min_angles(v, t).min()), abs=2e-3)


def pixel_art() -> np.ndarray:
    """16 x 16 px alpha: four overlapping pixel rectangles."""
    alpha = np.zeros((16, 16), np.uint8)
    for y0, y1, x0, x1 in ((3, 6, 2, 7), (8, 11, 6, 11), (2, 7, 6, 9), (2, 5, 6, 11)):
        alpha[y0:y1, x0:x1] = 255
    return alpha


def test_outline_steiner_never_meshes_worse_than_the_unsplit_outline():
    """16 px pixel art: Triangle's splits would make triangles under min_triangle_area, so its
    split ladder stops at 16.3 degrees where the unsplit pipeline reaches 26.6; a split outline
    allows every unsplit mesh, so asking for splits must not cost angle."""
    alpha = pixel_art()
    img = np.dstack([alpha] * 4)
    split_params = make_params({"outline_steiner": True})
    outline = contour.sprite_outline(alpha, split_params)
    vertices, segments, holes = contour.outline_pslg(outline)
    _, split_only = contour._by_island(contour._ladder(vertices, segments, holes, None, 5000, split_params, True),
                                       len(vertices), segments, 5000)
    plain = mesh_sprite(png(img))["metadata"]["min_angle_deg"]
    assert float(split_only.min()) < plain - 5  # the case: Triangle's split mesh alone is worse
    split = mesh_sprite(png(img), split_params)
    assert split["metadata"]["min_angle_deg"] >= plain
    assert_covers(split, alpha)
    assert_hull_first(split)


def test_outline_steiner_takes_each_island_from_the_better_mesh():
    """The pixel art beside a 1 x 12 px bar: split, the bar gains (two 4.8 degree slivers unsplit)
    and the pixel art loses; each island keeps its better mesh."""
    alpha = np.zeros((16, 40), np.uint8)
    alpha[:, :16] = pixel_art()
    alpha[7, 24:36] = 255
    img = np.dstack([alpha] * 4)
    split = mesh_sprite(png(img), make_params({"outline_steiner": True}))
    plain = mesh_sprite(png(img))
    assert_covers(split, alpha)
    assert_hull_first(split)

    def worst(result: dict, right: bool) -> float:
        v, t = np.array(result["vertices"]), np.array(result["triangles"])
        side = (v[t].mean(axis=1)[:, 0] > 20) == right
        return float(min_angles(v, t[side]).min())

    assert worst(split, False) == pytest.approx(worst(plain, False)) and worst(plain, False) > 20
    assert worst(split, True) > worst(plain, True) + 5
    assert split["metadata"]["hull_vertex_count"] > plain["metadata"]["hull_vertex_count"]
    fewer = len(split["vertices"]) - 1  # the pieces of two meshes still within max_vertices
    tight = mesh_sprite(png(img), make_params({"outline_steiner": True, "max_vertices": fewer}))
    assert len(tight["vertices"]) <= fewer


def test_outline_steiner_meshes_a_one_pixel_line_on_split_pieces_its_triangles_can_hold():
    """A 1 x 12 px bar: Triangle's splits (every half pixel) make triangles under 1 px^2 and its
    ladder ends at 14 degrees; unsplit, the bar is two 4.8 degree slivers. Its outline with the
    split points that leave no piece under 1.52 px (an equilateral triangle of 1 px^2) meshes
    at 26.6 degrees, each triangle at least 1 px^2."""
    alpha = np.zeros((16, 16), np.uint8)
    alpha[7, 2:14] = 255
    params = make_params({"outline_steiner": True})
    outline = contour.sprite_outline(alpha, params)
    vertices, segments, holes = contour.outline_pslg(outline)
    split = contour._run_triangle(vertices, segments, holes, TOL.min_angle_deg, None, 5000, True, labelled=True)
    finer = contour._with_split_points(outline, split, params.min_triangle_area)
    points = finer[0].points
    added = ~(points[:, None] == outline[0].points[None]).all(axis=2).any(axis=1)
    pieces = np.hypot(*(np.roll(points, -1, axis=0) - points).T)[added | np.roll(added, -1)]
    assert added.sum() > 4 and pieces.min() >= np.sqrt(4 / np.sqrt(3)) - 1e-9
    assert holds_ring(finer[0].points, outline[0].points) and holds_ring(outline[0].points, finer[0].points)
    result = mesh_sprite(png(np.dstack([alpha] * 4)), params)
    v, t = np.array(result["vertices"]), np.array(result["triangles"])
    assert result["metadata"]["min_angle_deg"] >= 26.5
    assert triangle_areas(v, t).min() >= params.min_triangle_area - 1e-9
    assert_covers(result, alpha)
    assert_hull_first(result)


def test_an_island_is_never_taken_from_a_mesh_without_triangles_there():
    """Two right triangles as two islands; a candidate mesh that lost the second one must not
    supply it (its smallest angle there is that of no triangle, not the best)."""
    vertices = np.array([[0, 0], [1, 0], [0, 1], [5, 0], [6, 0], [5, 1]], dtype=float)
    whole = {"vertices": vertices, "triangles": np.array([[0, 1, 2], [3, 4, 5]])}
    lost = {"vertices": vertices, "triangles": np.array([[0, 1, 2]])}
    for candidates in ([lost, whole], [whole, lost]):
        mesh = contour._best_by_island([(m, np.array([0, 0, 0, 1, 1, 1])) for m in candidates], 100)
        assert len(mesh["triangles"]) == 2


def test_outline_steiner_validation():
    assert make_params({"outline_steiner": True}).outline_steiner is True
    with pytest.raises(InputError):
        make_params({"outline_steiner": "yes"})


def test_clipped_diamond_has_no_sliver_from_the_image_border():
    """A shape clipped by the image border used to keep a sub-pixel segment that forced a sliver."""
    img = np.zeros((71, 111, 4), np.uint8)
    pts = np.array([[55, 0], [110, 32], [55, 70], [0, 37]], np.int32)
    cv2.fillPoly(img, [pts], (255, 255, 255, 255), cv2.LINE_AA)
    result = mesh_sprite(png(img))
    assert_covers(result, img[..., 3])
    md = result["metadata"]
    assert forced(result) > 20
    assert md["min_angle_deg"] > 5  # was 0.04 degrees on a real clipped sprite before tidying


def test_a_shape_cut_by_the_image_edge_gets_no_sliver_there(monkeypatch):
    """An ellipse that fills its image: at the bottom the outline's offset corner only just passes
    the image's edge, and the clip left a 0.1 px segment there between 40 and 56 px ones."""
    img = np.zeros((48, 128, 4), np.uint8)
    cv2.ellipse(img, (64, 24), (64, 20), 0, 0, 360, (255, 255, 255, 255), -1, cv2.LINE_AA)
    result = mesh_sprite(png(img))
    assert_covers(result, img[..., 3])
    v = np.array(result["vertices"])
    assert (v >= 0).all() and (v <= [128, 48]).all()
    assert result["metadata"]["min_angle_deg"] >= 20.0
    monkeypatch.setattr(contour, "tidy_outline", lambda rings, *_: rings)
    assert mesh_sprite(png(img))["metadata"]["min_angle_deg"] < 5.0


def inside(ring: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which points are inside or on ``ring`` (to 1e-3 px: float32, and points on a straightened edge)."""
    contour32 = ring.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour32, (float(x), float(y)), True) >= -1e-3 for x, y in points])


EDGE_TIP = [[0, 9.8], [30, 0], [60, 10], [30, 20], [0, 10.2]]  # a 0.4 px segment on the image's left edge


@pytest.mark.parametrize("area_share", [TOL.border_widen_area, 1.0])
def test_short_border_segment_is_widened_along_the_edge_and_only_outward(area_share, monkeypatch):
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, border_widen_area=area_share))
    ring = _orient(np.array(EDGE_TIP, dtype=float), False)
    (out,) = tidy_outline([Ring(ring, False, 0)], 60, 20)
    moved = np.flatnonzero((out.points != ring).any(axis=1))
    assert len(moved) == 2 and (out.points[moved, 0] == 0).all()  # the segment's ends, along x = 0
    assert (out.points[:, 1] >= 0).all() and (out.points[:, 1] <= 20).all()
    length = np.ptp(out.points[moved, 1])
    added = signed_area(out.points) - signed_area(ring)
    assert 0.4 < length <= TOL.border_widen_ratio * np.hypot(30, 9.8) + 1e-9
    assert added <= area_share * signed_area(ring) + 1e-9
    grid = np.stack(np.meshgrid(np.linspace(0, 60, 61), np.linspace(0, 20, 41)), -1).reshape(-1, 2)
    assert inside(out.points, grid[inside(ring, grid)]).all()  # holds all it held
    if area_share == 1.0:
        assert length == pytest.approx(TOL.border_widen_ratio * np.hypot(30, 9.8))


def test_border_segment_at_the_image_corner_widens_from_its_other_end(monkeypatch):
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, border_widen_area=1.0))
    ring = _orient(np.array([[0, 0], [40, 0], [30, 30], [0, 0.5]], dtype=float), False)
    (out,) = tidy_outline([Ring(ring, False, 0)], 40, 30)
    moved = np.flatnonzero((out.points != ring).any(axis=1))
    assert len(moved) == 1 and out.points[moved[0], 0] == 0  # the corner stays, the other end moves up x = 0
    assert out.points[moved[0], 1] == pytest.approx(TOL.border_widen_ratio * 40)  # 0.3 of the bottom side


def test_border_segment_is_kept_where_widening_would_meet_another_ring(monkeypatch):
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, border_widen_area=1.0))
    tip = Ring(_orient(np.array(EDGE_TIP, dtype=float), False), False, 0)
    near = Ring(_orient(np.array([[0, 11], [4, 11.5], [0, 14.0]], dtype=float), False), False, 1)
    rings = [tip, near]
    out = tidy_outline(rings, 60, 20)
    assert all(a.points is b.points for a, b in zip(out, rings, strict=True))
    apart = Ring(near.points + np.array([0, 4]), False, 1)
    assert tidy_outline([tip, apart], 60, 20)[0].points is not tip.points  # widened without it
    nothing_short = [Ring(_orient(np.array([[10, 2], [40, 10], [10, 18]], dtype=float), False), False, 0)]
    assert tidy_outline(nothing_short, 61, 20) is nothing_short


def test_pooled_shape_on_the_image_edge_keeps_no_pixel_step_onto_it(monkeypatch):
    """A 456 x 700 sprite is meshed on a 3x pooled grid; mapping it back squashes the last cell into
    the last pixel row, and each side reached the bottom edge through a 1 px step beside a 360 px
    bottom segment: a triangle with five outline vertices and a 1.3 degree sliver."""
    img = np.zeros((700, 456, 4), np.uint8)
    cv2.fillPoly(img, [np.array([[40, 730], [200, 300], [420, 740]], np.int32)], (255, 255, 255, 255), cv2.LINE_AA)
    result = mesh_sprite(png(img))
    assert_covers(result, img[..., 3])
    assert result["hull"] == 3 and result["metadata"]["min_angle_deg"] > 40
    monkeypatch.setattr(contour, "tidy_outline", lambda rings, *_: rings)
    plain = mesh_sprite(png(img))
    assert plain["hull"] == 5 and plain["metadata"]["min_angle_deg"] < 5


# steps onto the bottom edge (y = 100) of a 120 x 100 image: B -> C is 1.1 px, beside 90 px and 70 px
OUT_STEP = [[20, 10], [30, 99], [31, 100], [100, 100], [110, 10]]   # A -> B meets the edge beyond C: B moves there
IN_STEP = [[20, 10], [30, 99], [29.5, 100], [100, 100], [110, 10]]  # ... on C -> D: the ring turns outward at B


@pytest.mark.parametrize(("points", "left"), [(OUT_STEP, [[20, 10], [20 + 10 * 90 / 89, 100], [100, 100], [110, 10]]),
                                              (IN_STEP, [[20, 10], [29.5, 100], [100, 100], [110, 10]])],
                         ids=["out", "in"])
def test_short_step_onto_the_edge_is_merged_outward(points, left):
    grid = np.stack(np.meshgrid(np.linspace(0, 120, 241), np.linspace(0, 100, 201)), -1).reshape(-1, 2)
    for walk in (1, -1):  # either way round the ring
        ring = _orient(np.array(points, dtype=float)[::walk], False)
        (out,) = tidy_outline([Ring(ring, False, 0)], 120, 100)
        assert sorted(map(tuple, out.points.round(9))) == sorted(map(tuple, np.round(left, 9)))
        assert inside(out.points, grid[inside(ring, grid)]).all()
        long_step = ring.copy()
        long_step[np.all(ring == points[2], axis=1)] = [60, 100]  # a 30 px step is the shape's own
        assert tidy_outline([Ring(long_step, False, 0)], 120, 100)[0].points is long_step


def test_step_whose_extension_runs_far_along_the_edge_keeps_its_corner(monkeypatch):
    """A -> B runs nearly along the bottom edge: extended, it meets the edge 49 px beyond C at a
    1.1 degree corner, a spike sharper than any sliver the step forces, so the step stays, whatever
    the area allowed; without the corner limit it goes (B moves to the edge at x = 80)."""
    points = [[5, 98.5], [30, 99], [31, 100], [0, 100], [0, 40], [40, 40]]
    ring = _orient(np.array(points, dtype=float), False)
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, merge_area=1.0))
    assert tidy_outline([Ring(ring, False, 0)], 120, 100)[0].points is ring
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, merge_area=1.0, merge_corner_deg=0.0))
    (out,) = tidy_outline([Ring(ring, False, 0)], 120, 100)
    assert sorted(map(tuple, out.points)) == sorted([(5, 98.5), (80, 100), (0, 100), (0, 40), (40, 40)])


# a 0.4 px segment at the tip of a 60 px diamond, away from the image's edge
INNER_TIP = [[10, 9.8], [40, 0], [70, 10], [40, 20], [10, 10.2]]


def test_short_segment_anywhere_is_merged_into_its_neighbours_corner():
    """Both its corners are convex: the neighbours, extended, meet at X = (9.39, 10), and the
    triangle B X C (outside the solid) is all the outline gains."""
    grid = np.stack(np.meshgrid(np.linspace(0, 80, 161), np.linspace(0, 20, 41)), -1).reshape(-1, 2)
    for walk in (1, -1):
        ring = _orient(np.array(INNER_TIP, dtype=float)[::walk], False)
        (out,) = tidy_outline([Ring(ring, False, 0)], 80, 20)
        assert len(out.points) == 4
        reach = 0.2 * 30 / 9.8  # how far X lies beyond the 0.4 px segment
        assert out.points[:, 0].min() == pytest.approx(10 - reach)
        assert inside(out.points, grid[inside(ring, grid)]).all()
        assert signed_area(out.points) - signed_area(ring) == pytest.approx(0.5 * 0.4 * reach)


def test_short_segment_merge_moves_the_outline_no_farther_than_its_tolerances_allow():
    """X lies 0.61 px beyond the tip's segment: a ring whose simplification tolerance allows less
    (``TOL.merge_reach`` of them) keeps the segment, as a high ``detail_factor`` asks."""
    ring = _orient(np.array(INNER_TIP, dtype=float), False)
    reach = 0.2 * 30 / 9.8
    assert tidy_outline([Ring(ring, False, 0)], 80, 20, [0.99 * reach / TOL.merge_reach])[0].points is ring
    assert len(tidy_outline([Ring(ring, False, 0)], 80, 20, [1.01 * reach / TOL.merge_reach])[0].points) == 4


def test_short_segment_merge_keeps_corners_of_at_least_the_limit():
    """The same tip 240 px long: its sides meet at an 11 degree corner, under the 20 degree limit."""
    ring = _orient(np.array([[10, 9.8], [130, 4], [250, 10], [130, 16], [10, 10.2]], dtype=float), False)
    assert tidy_outline([Ring(ring, False, 0)], 260, 20)[0].points is ring


def test_short_segment_of_a_hole_is_merged_into_the_solid(monkeypatch):
    """A 20 px square hole with one corner cut by a 1 px segment: both its ends are reflex corners of
    the solid, so one of them goes (the solid gains the thin triangle between the cut and the hole's
    far corner); under a smaller area cap the hole stays as it was."""
    outer = Ring(_orient(np.array([[0, 0], [60, 0], [60, 60], [0, 60]], dtype=float), False), False, 0)
    e = 1 / np.sqrt(2)
    cut = np.array([[20, 20], [40, 20], [40, 40], [20 + e, 40], [20, 40 - e]], dtype=float)
    hole = Ring(_orient(cut, True), True, 0)
    out = tidy_outline([outer, hole], 60, 60)
    assert out[0] is outer and len(out[1].points) == 4
    gained = 0.5 * (20 * e - e * e)
    assert signed_area(out[1].points) - signed_area(hole.points) == pytest.approx(gained)  # (a hole's area is < 0)
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, merge_area=0.9 * gained / (3600 - 400)))
    assert tidy_outline([outer, hole], 60, 60)[1] is hole


def test_border_tidying_never_swallows_a_ring(monkeypatch):
    """A speck inside the triangle the widening would add: no edge crosses, but the tip would enclose it."""
    monkeypatch.setattr(contour_tidy, "TOL", replace(TOL, border_widen_area=1.0))
    tip = Ring(_orient(np.array(EDGE_TIP, dtype=float), False), False, 0)
    speck = Ring(_orient(np.array([[1, 12], [2, 12.5], [1, 13]], dtype=float), False), False, 1)
    assert tidy_outline([tip, speck], 60, 20)[0] is tip
    assert tidy_outline([tip], 60, 20)[0] is not tip


def test_widening_ends_when_only_rings_it_did_not_move_touch():
    """Two rings that already touch, beside a widened one: theirs is not the widening's fault (and
    blaming them would never end)."""
    pair = [Ring(_orient(np.array(points, dtype=float), False), False, k)
            for k, points in ((1, [[2, 17], [6, 17], [4, 19]]), (2, [[6, 17], [10, 17], [8, 19]]))]
    tip = Ring(_orient(np.array(EDGE_TIP, dtype=float), False), False, 0)
    out = tidy_outline([tip, *pair], 60, 20)
    assert out[0].points is not tip.points and all(a is b for a, b in zip(out[1:], pair, strict=True))


def tip(corner_deg: float, side: float, short: float = 1.0) -> np.ndarray:
    """A quad: a ``short`` segment between two ``side``-long ones, at equal corners ``corner_deg``."""
    phi = np.radians(corner_deg)
    a, b = np.array([0.0, 0.0]), np.array([short, 0.0])
    return np.array([a, b, b + side * np.array([np.cos(np.pi - phi), np.sin(np.pi - phi)]),
                     a + side * np.array([np.cos(phi), np.sin(phi)])])


def test_forced_angle_short_segment_takes_both_ends_at_once(monkeypatch):
    """The one triangle on a short segment between long ones takes angle at both of its ends, and
    both fans must still grade to the long sides: a lower bound than either end alone allows, and
    still not beaten by a mesh with an interior vertex (searched on a grid)."""
    ring = tip(120, 20)
    bound = forced_min_angle([ring])
    monkeypatch.setattr(contour_metrics, "_segment_bound", lambda *args: args[-1])
    each_end_alone = forced_min_angle([ring])
    monkeypatch.undo()
    assert bound < 19.0 < 20.0 <= each_end_alone
    fan = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    xs, ys = np.meshgrid(np.linspace(-10, 11, 211), np.linspace(0.05, 17.5, 176))
    for x, y in zip(xs.ravel(), ys.ravel(), strict=True):
        vertices = np.vstack([ring, [[x, y]]])
        e1, e2 = vertices[fan[:, 1]] - vertices[fan[:, 0]], vertices[fan[:, 2]] - vertices[fan[:, 0]]
        if (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] > 0).all():  # a valid fan
            assert min_angles(vertices, fan).min() <= bound + 1e-9
    # a square has no short segment: 45 as before
    assert forced_min_angle([tip(90, 1, short=1)]) == pytest.approx(45.0, abs=1e-6)


HAT_GUY = """\
......####......
....########....
..############..
.##############.
################
################
################
.##############.
.#############..
###############.
###############.
###############.
###############.
###############.
.##############.
.##############.
.##############.
..#############.
..#############.
.##############.
.##############.
.##############."""


def test_a_dent_narrower_than_the_tolerance_is_filled_not_kept_as_a_notch():
    """The mask of a 16 x 22 sprite (bevy's rpg hat guy) with a 2-pixel dent at the left border:
    the offset outline kept a notch vertex 0.4 px inside a 2 px chord there, which no Steiner
    point may split, and the mesh had a 7.8 degree sliver on it. The dent is shallower than the
    tolerance and its chord under four tolerances, so it is filled (2 px^2 more area) instead."""
    alpha = np.array([[255 if c == "#" else 0 for c in row] for row in HAT_GUY.splitlines()], np.uint8)
    img = np.zeros((*alpha.shape, 4), np.uint8)
    img[..., 3] = alpha
    result = mesh_sprite(png(img))
    assert_covers(result, alpha)
    assert result["metadata"]["min_angle_deg"] >= 20
    assert result["metadata"]["hull_vertex_count"] <= 10


def test_a_sub_pixel_segment_forces_what_a_one_pixel_triangle_on_it_allows():
    """A hole ending in a narrow slot, the slot's end a 0.75 px flat with the solid beyond it: a
    Steiner apex over the flat needs 2.67 px of height for 1 px^2, leaving 16 degrees at the apex,
    and every outline vertex as its apex is worse. With a tenth of that area, or none, the hole
    forces 34 degrees."""
    slot = np.array([[0.0, 0.0], [10.0, 0.0], [10.375, 20.0], [11.125, 20.0], [11.5, 0.0], [21.5, 0.0],
                     [21.5, -10.0], [0.0, -10.0]])
    ring = _orient(slot, True)
    steiner = np.degrees(2 * np.arctan(0.75 ** 2 / 4))
    assert forced_min_angle([ring], min_area=1.0) == pytest.approx(steiner, abs=1e-6)
    assert forced_min_angle([ring], min_area=0.1) == forced_min_angle([ring]) > steiner + 18
    # split segments: a split point is a Steiner vertex and the pieces are shorter, so the flat still
    # forces as much, where the corners alone allow the slot's 60 degree cap
    assert forced_min_angle([ring], min_area=1.0, split_outline=True) == pytest.approx(steiner, abs=1e-6)
    assert forced_min_angle([ring], split_outline=True) > steiner + 40


# a 7 x 5 px arch from the LPC hair sheet: 1 px legs, its inside 2 px under the top
ARCH = [[476.0, 1250.0], [476.0, 1255.0], [475.0, 1255.0], [475.0, 1254.0], [473.0, 1252.0], [472.0, 1252.0],
        [470.0, 1254.0], [470.0, 1255.0], [469.0, 1255.0], [469.0, 1251.0], [470.0, 1250.0]]


def test_a_sub_pixel_segment_with_no_room_for_a_steiner_apex_forces_its_best_outline_vertex():
    """The arch's inside top is a 1 px segment 2 px under the outer top: a Steiner apex with 1 px^2
    needs 2 px of height, and every ray from the segment into the solid meets the outline by then,
    so its triangle's apex is an outline vertex. The bound allowed 23 degrees; the mesh, and any
    mesh, reaches 11.3. With a tenth of the area an apex fits under the top and the mesh passes 20."""
    ring = np.array(ARCH)
    mesh = triangulate([Ring(ring, False, 0)], ContourParams())
    reached = float(min_angles(mesh.vertices, mesh.triangles).min())
    assert forced_min_angle([ring], min_area=1.0) == pytest.approx(reached, abs=1e-6)
    assert reached == pytest.approx(np.degrees(np.arctan(1 / 5)), abs=1e-6)
    loose = forced_min_angle([ring], min_area=0.1)
    assert loose > 23
    fine = triangulate([Ring(ring, False, 0)], ContourParams(min_triangle_area=0.1))
    assert 20 <= float(min_angles(fine.vertices, fine.triangles).min()) <= loose
