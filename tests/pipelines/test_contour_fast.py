"""Sprite mesher internals: exact pixel-grid containment, crossing sweep, many-island sheets."""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.contour import build_mask, clean_mask, mesh_sprite, trace_rings
from pipelines.contour_geometry import (
    _crossing_rings,
    _uncovering_local,
    _uncovering_rings,
    edge_pixels,
    holds_ring,
    solid_pixels,
    winding_grid,
)
from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_rings import signed_area
from pipelines.contour_simplify import _first_feasible_step, simplify_rings
from tests.pipelines.test_contour import assert_covers, assert_hull_first, png, star_sprite


def rings_of(img: np.ndarray, params: ContourParams | None = None):
    params = params or ContourParams()
    mask = clean_mask(build_mask(img[..., 3], params), params)
    return mask, trace_rings(mask)


def sheet_sprite(n: int = 12, size: int = 384) -> np.ndarray:
    """A sheet of n x n small islands (circles with a hole, plus crosses), close together."""
    img = np.zeros((size, size, 4), np.uint8)
    step = size // n
    for i in range(n):
        for j in range(n):
            cx, cy = i * step + step // 2, j * step + step // 2
            if (i + j) % 2:
                cv2.circle(img, (cx, cy), step // 2 - 3, (255, 255, 255, 255), -1, cv2.LINE_AA)
                cv2.circle(img, (cx, cy), step // 5, (0, 0, 0, 0), -1)
            else:
                cv2.line(img, (cx - step // 3, cy), (cx + step // 3, cy), (255, 255, 255, 255), 2)
                cv2.line(img, (cx, cy - step // 3), (cx, cy + step // 3), (255, 255, 255, 255), 2)
    return img


def test_winding_and_edge_pixels_on_the_grid():
    square = np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 3.0], [1.0, 3.0]])
    wind = winding_grid([square], 6, 5)
    inside = np.zeros((5, 6), bool)
    inside[1:3, 1:4] = True
    assert set(np.unique(np.abs(wind[inside]))) == {1} and not wind[~inside].any()
    assert not edge_pixels([square], 6, 5).any()  # edges on pixel borders cut nothing
    diagonal = np.array([[0.0, 0.0], [3.0, 3.0], [0.0, 3.0]])
    cut = edge_pixels([diagonal], 4, 4)
    assert cut[0, 0] and cut[1, 1] and cut[2, 2] and cut.sum() == 3
    shifted = square + 0.25
    assert edge_pixels([shifted], 6, 5)[1, 1] and edge_pixels([shifted], 6, 5)[3, 4]


def test_solid_pixels_rebuild_the_mask():
    for img in (star_sprite(), sheet_sprite(6, 192)):
        mask, rings = rings_of(img)
        solid = solid_pixels([r.points for r in rings], *mask.shape[::-1])
        assert solid[mask].all()  # every opaque pixel is whole inside the trace (pinches may add a few)
        assert solid.sum() <= mask.sum() * 1.01


def test_simplified_rings_hold_every_pixel_and_never_cross():
    img = sheet_sprite()
    mask, rings = rings_of(img)
    out = simplify_rings(rings, ContourParams(), img.shape[1], img.shape[0])
    points = [r.points for r in out]
    assert _crossing_rings(points) == set()
    assert _uncovering_rings(points, mask) == set()
    assert sum(len(p) for p in points) < sum(len(r.points) for r in rings)
    for ring, simple in zip(rings, out, strict=True):
        assert holds_ring(simple.points, ring.points)


def test_holds_ring_rejects_a_cut_and_crossing_is_found():
    square = np.array([[2.0, 2.0], [2.0, 6.0], [6.0, 6.0], [6.0, 2.0]])
    if signed_area(square) < 0:
        square = square[::-1].copy()
    assert holds_ring(4 + (square - 4) * 1.3, square)
    assert not holds_ring(4 + (square - 4) * 1.3, square[::-1].copy())  # orientation must match
    cut = square.copy()
    cut[0] = cut[0] + (np.array([4.0, 4.0]) - cut[0]) * 0.3  # one corner pulled inward
    assert not holds_ring(cut, square)
    far = square + 10
    assert _crossing_rings([square, far]) == set()
    assert _crossing_rings([square, square + 2]) == {0, 1}
    assert _crossing_rings([square, square + np.array([4.0, 0.0])]) == {0, 1}  # touching along an edge


def test_many_island_sheet_covers_every_island_and_hole():
    """Timing of such sheets is in `make bench` (bench/contour.py), not here."""
    img = sheet_sprite(8, 192)
    result = mesh_sprite(png(img))
    assert_covers(result, img[..., 3])
    assert_hull_first(result)
    assert result["metadata"]["islands"] == 64 and result["metadata"]["holes"] == 32


def test_batched_simplification_matches_ring_by_ring():
    from pipelines.contour_simplify import ring_tolerances, simplify_ring, simplify_ring_batch
    img = sheet_sprite(6, 192)
    _, rings = rings_of(img)
    tols = ring_tolerances(rings, ContourParams(), 1.0)
    batch = simplify_ring_batch([r.points for r in rings], tols, img.shape[1], img.shape[0])
    for ring, tol, got in zip(rings, tols, batch, strict=True):
        alone = simplify_ring(ring.points, tol, img.shape[1], img.shape[0])
        assert np.array_equal(alone, got)
        assert (got is ring.points) == (alone is ring.points)


def thin_holed_sprite(size: int = 160) -> np.ndarray:
    """Anti-aliased OpenCV shapes: a ring with a hole and an island in it, thin strokes, a thin slot."""
    img = np.zeros((size, size, 4), np.uint8)
    white = (255, 255, 255, 255)
    cv2.circle(img, (50, 50), 40, white, -1, cv2.LINE_AA)
    cv2.circle(img, (50, 50), 25, (0, 0, 0, 0), -1, cv2.LINE_AA)
    cv2.circle(img, (50, 50), 10, white, -1, cv2.LINE_AA)
    cv2.line(img, (100, 10), (150, 150), white, 1, cv2.LINE_AA)
    cv2.line(img, (10, 140), (140, 100), white, 2, cv2.LINE_8)
    cv2.rectangle(img, (105, 20), (150, 70), white, -1)
    cv2.rectangle(img, (126, 20), (128, 60), (0, 0, 0, 0), -1)  # a slot one pixel from a thin wall
    return img


def test_local_uncovering_check_agrees_with_the_raster_check():
    """The outline-only check finds an uncovered pixel exactly when the whole-image raster does,
    on shrunk, jittered, snapped and traced outlines of sheets and thin, holed OpenCV shapes."""
    from pipelines.contour_geometry import solid_index
    from pipelines.contour_simplify import ring_tolerances, simplify_ring_batch
    rng = np.random.default_rng(7)
    failing = 0
    for img in (sheet_sprite(6, 192), thin_holed_sprite()):
        mask, rings = rings_of(img)
        index = solid_index(mask)
        h, w = mask.shape
        for scale in (1.0, 4.0, 16.0):
            tols = ring_tolerances(rings, ContourParams(), scale)
            simple = simplify_ring_batch([r.points for r in rings], tols, w, h)
            centre = simple[0].mean(axis=0)
            candidates = [simple, [r.points for r in rings], [np.round(p) for p in simple],
                          [centre + (simple[0] - centre) * 0.9, *simple[1:]]]
            for _ in range(6):
                candidates.append([p + (rng.random(p.shape) < 0.1)[:, :1] * rng.normal(0, 0.7, p.shape)
                                   for p in simple])
            for points in candidates:
                full = _uncovering_rings(points, mask)
                failing += bool(full)
                assert bool(_uncovering_local(points, index)) == bool(full)
    assert failing >= 10  # the perturbed outlines do uncover pixels


def test_outward_simplification_never_uncovers_a_pixel():
    """Thin parts, holes and an island in a hole, at several tolerances: every pixel whole inside."""
    img = thin_holed_sprite()
    mask, rings = rings_of(img)
    for detail in (0.001, 0.003, 0.01, 0.05):
        out = simplify_rings(rings, ContourParams(detail_factor=detail), img.shape[1], img.shape[0])
        points = [r.points for r in out]
        assert _uncovering_rings(points, mask) == set()
        assert _crossing_rings(points) == set()
        for ring, simple in zip(rings, out, strict=True):
            assert holds_ring(simple.points, ring.points)
    assert_covers(mesh_sprite(png(img)), img[..., 3])


def test_predicted_budget_step_gives_the_ladder_result():
    from pipelines.contour_params import TOL
    from pipelines.contour_simplify import simplify_within_budget
    img = sheet_sprite(8, 256)
    _, rings = rings_of(img)
    params = ContourParams(max_vertices=700)
    got = simplify_within_budget(rings, params, img.shape[1], img.shape[0])
    assert sum(len(r.points) for r in got) <= 700
    scale = 1.0
    for _ in range(TOL.budget_retries):  # the plain ladder: first scale that fits
        ladder = simplify_rings(rings, params, img.shape[1], img.shape[0], scale)
        if sum(len(r.points) for r in ladder) <= 700:
            break
        scale *= TOL.budget_growth
    assert scale > 1.0  # the budget did bind
    assert all(np.array_equal(a.points, b.points) for a, b in zip(got, ladder, strict=True))


def test_own_neighbours_match_triangles_n_switch():
    import triangle

    from pipelines.contour import _ring_segments
    from pipelines.contour_kernels import triangle_neighbors
    img = sheet_sprite(4, 128)
    _, rings = rings_of(img)
    vertices = np.concatenate([r.points for r in rings])
    segments = _ring_segments([len(r.points) for r in rings])
    out = triangle.triangulate({"vertices": vertices, "segments": segments.astype(np.int32)}, "pQn")
    assert np.array_equal(triangle_neighbors(out["triangles"], len(out["vertices"])), out["neighbors"])


def test_pooled_grid_holds_every_pixel_and_stays_in_the_image():
    """A large sheet is meshed on a max-pooled grid; its outline still holds every pixel whole."""
    from pipelines.contour import pool_factor
    from tests.pipelines.test_contour import assert_holds_mask

    img = sheet_sprite(5, 1003)  # 1003 is no multiple of the factor: the last cells are partial
    params = ContourParams()
    assert pool_factor(build_mask(img[..., 3], params), params) > 1
    result = mesh_sprite(png(img))
    assert_holds_mask(result, img[..., 3], params)
    assert_hull_first(result)
    assert result["metadata"]["islands"] == 25 and result["metadata"]["holes"] == 12


def test_pool_and_unpool_keep_pixels_inside_and_rings_apart():
    from pipelines.contour import pool_mask, unpool_rings
    from pipelines.contour_rings import Ring

    rng = np.random.default_rng(3)
    params = ContourParams(min_contour_area=1)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(8, 70, 2))
        mask = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(1, 6))):
            cv2.circle(mask, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 12)), 1, -1)
        factor = int(rng.integers(2, 6))
        pooled = clean_mask(pool_mask(mask.astype(bool), factor), params, factor * factor)
        rings = trace_rings(pooled)
        simple = simplify_rings(rings, params, pooled.shape[1], pooled.shape[0], unit=factor)
        for outline in (rings, simple):
            loops = [r.points for r in unpool_rings(outline, factor, w, h)]
            assert _uncovering_rings(loops, mask.astype(bool)) == set()
            assert _crossing_rings(loops) == set()
            points = np.concatenate(loops)
            assert points.min() >= -1e-9 and (points.max(axis=0) <= np.array([w, h]) + 1e-9).all()
    assert unpool_rings([Ring(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), False, 0)], 1, 3, 3)[0].points[1, 0] == 1


def test_strided_coverage_estimates_the_full_raster():
    from pipelines.contour_metrics import coverage_stats

    img = sheet_sprite(6, 384)
    result = mesh_sprite(png(img))
    from pipelines.contour_metrics import outline_rings
    loops = outline_rings(result)
    full = coverage_stats(loops, img[..., 3], 10, 2)
    strided = coverage_stats(loops, img[..., 3], 10, 1, stride=3)
    assert full["opaque_coverage"] == strided["opaque_coverage"] == 1.0
    assert abs(full["wasted_area"] - strided["wasted_area"]) < 0.02


def test_hole_points_fall_inside_each_hole_and_outside_islands_within_it():
    from pipelines.contour import _hole_points, _ring_segments
    img = np.zeros((160, 160, 4), np.uint8)
    cv2.circle(img, (80, 80), 70, (255, 255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(img, (80, 80), 45, (0, 0, 0, 0), -1, cv2.LINE_AA)      # a hole ...
    cv2.circle(img, (80, 80), 30, (255, 255, 255, 255), -1)            # ... with an island in it
    cv2.circle(img, (80, 80), 12, (0, 0, 0, 0), -1)                    # ... that has its own hole
    cv2.rectangle(img, (20, 60), (26, 100), (0, 0, 0, 0), -1)          # a slot hole in the ring
    mask, rings = rings_of(img)
    outline = simplify_rings(rings, ContourParams(), 160, 160, solid=mask)
    assert sum(r.is_hole for r in outline) == 3
    vertices = np.concatenate([r.points for r in outline])
    points = _hole_points(vertices, _ring_segments([len(r.points) for r in outline]), outline)
    assert len(points) == 3
    for x, y in points:  # inside an even number of rings (so empty), and on none
        sides = [cv2.pointPolygonTest(r.points.astype(np.float32), (float(x), float(y)), True) for r in outline]
        assert sum(d > 0 for d in sides) % 2 == 0 and min(abs(d) for d in sides) > 0.1
    assert _hole_points(vertices[:0], np.zeros((0, 2), int), [r for r in outline if not r.is_hole][:0]) is None


def test_crossing_recheck_near_changed_rings_agrees_with_full_sweep():
    from pipelines.contour_geometry import recheck_crossing
    img = sheet_sprite(6, 192)
    _, rings = rings_of(img)
    points = [r.points for r in rings]
    assert _crossing_rings(points) == set()
    grown = [points[0].mean(axis=0) + (points[0] - points[0].mean(axis=0)) * 1.6, *points[1:]]
    full = _crossing_rings(grown)
    assert 0 in full and len(full) > 1
    assert recheck_crossing(grown, {0}) == full
    assert recheck_crossing(points, {0}) == set()


def test_metadata_coverage_from_the_held_mask_matches_the_raster():
    """Small images: metadata coverage counts the held mask's pixels as whole (they are, by the
    simplification's check) and samples only the others: the raster's coverage, its waste within
    sampling noise."""
    from pipelines.contour_metrics import coverage_stats, outline_rings
    for img in (thin_holed_sprite(), sheet_sprite(4, 128)):
        result = mesh_sprite(png(img))
        raster = coverage_stats(outline_rings(result), img[..., 3], 10, 4)
        assert result["metadata"]["opaque_coverage"] == round(raster["opaque_coverage"], 6) == 1.0
        assert abs(result["metadata"]["wasted_area"] - raster["wasted_area"]) < 0.01


def test_unpool_leaves_no_point_on_a_straight_edge():
    """The split at the last cell is there for the map; where both pieces stay on one line it would
    be an unsplittable outline vertex on a straight edge, forcing a sliver next to it."""
    from pipelines.contour import unpool_rings
    from pipelines.contour_rings import Ring

    square = Ring(np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]]), False, 0)
    slanted = Ring(np.array([[2.0, 0.0], [0.0, 10.0], [10.0, 10.0]]), False, 0)
    for width, height in ((40, 40), (38, 37)):  # the last cell whole (a linear map) or cut short
        corners = unpool_rings([square], 4, width, height)[0].points
        assert sorted(map(tuple, corners.tolist())) == [(0, 0), (0, height), (width, 0), (width, height)]
    mapped = unpool_rings([slanted], 4, 40, 40)[0].points  # x = 4 x, y = 4 y: the slanted edge stays straight
    assert mapped.tolist() == [[8.0, 0.0], [0.0, 40.0], [40.0, 40.0]]
    bent = unpool_rings([slanted], 4, 40, 38)[0].points  # the last row is 2 pixels: slanted edges bend there
    assert len(bent) == 5 and bent[:, 1].tolist().count(38.0) == 2


def test_refinement_is_local_to_the_faults():
    """A ring blamed at one place is simplified again only near it: elsewhere its candidate keeps the
    vertices of the first simplification, and it still holds every pixel of the ring."""
    from pipelines.contour_geometry import Faults
    from pipelines.contour_simplify import _Refinement, simplify_ring_batch
    img = np.zeros((160, 160, 4), np.uint8)
    cv2.circle(img, (80, 80), 70, (255, 255, 255, 255), -1, cv2.LINE_AA)
    _, rings = rings_of(img)
    ring, tol = rings[0].points, 8.0  # Douglas-Peucker keeps 8 points of the circle at 8 px, 16 at 4
    first = simplify_ring_batch([ring], [tol], 160, 160)[0]
    right = int(first[:, 0].argmax())
    fault = Faults(np.array([0]), first[right][None], first[(right + 1) % len(first)][None])
    refinement = _Refinement([ring], [tol], [False])
    refinement.deepen([0], fault)
    depth = refinement.depth[0]
    assert 0 < np.count_nonzero(depth) < len(ring) / 4 and (ring[depth > 0, 0] > 100).all()
    again = refinement.candidates([0], 160, 160)[0]
    assert len(again) > len(first) and holds_ring(again, ring)
    assert np.array_equal(again[again[:, 0] < 50], first[first[:, 0] < 50])
    elsewhere = Faults(np.array([0]), np.array([[80.0, 80.0]]), np.array([[80.0, 80.0]]))  # near no point
    refinement.deepen([0], elsewhere)
    assert (refinement.depth[0] == depth + 1).all()


def test_hole_point_when_the_ray_meets_a_corner_exactly():
    """The ray from a hole's longest side can pass exactly through the opposite corner (an isosceles
    triangle); float rounding must not let it slip between the two segments meeting there."""
    from pipelines.contour import triangulate
    from pipelines.contour_rings import Ring
    outer = np.array([[340.0, 340.0], [390.0, 340.0], [390.0, 390.0], [340.0, 390.0]])
    hole = np.array([[353.0, 374.0], [375.0, 354.0], [354.0, 353.0]])
    assert signed_area(outer) > 0 > signed_area(hole)
    mesh = triangulate([Ring(outer, False, 0), Ring(hole, True, 0)], ContourParams())
    centroids = mesh.vertices[mesh.triangles].mean(axis=1)
    inside_hole = [cv2.pointPolygonTest(hole.astype(np.float32), (float(x), float(y)), False) > 0 for x, y in centroids]
    assert len(mesh.triangles) and not any(inside_hole)


def test_refinement_converges_where_tidying_would_undo_it():
    """A web of anti-aliased lines (tests/data/crossed_lines.png, the alpha of a 384 px sprite):
    its big ring faults where lines cross. Tidied with the ring's own tolerance, the finer anchors
    near a fault were dropped again, the fault stayed, and after every retry round the ring fell
    back to all its 774 traced points; with each anchor's own tolerance it converges."""
    from pathlib import Path

    from pipelines.contour import sprite_outline
    alpha = cv2.imread(str(Path(__file__).parents[1] / "data" / "crossed_lines.png"), cv2.IMREAD_UNCHANGED)
    outline = sprite_outline(np.ascontiguousarray(alpha), ContourParams())
    assert max(len(r.points) for r in outline) < 200


def test_refinement_is_whole_when_faults_are_too_many_to_place(monkeypatch):
    """Past ``TOL.fault_pairs`` (point, fault) pairs the faults are not placed: every point of the
    ring is halved, as when no point is near."""
    from dataclasses import replace

    from pipelines import contour_simplify
    from pipelines.contour_geometry import Faults
    from pipelines.contour_simplify import _Refinement, simplify_ring_batch
    img = np.zeros((160, 160, 4), np.uint8)
    cv2.circle(img, (80, 80), 70, (255, 255, 255, 255), -1, cv2.LINE_AA)
    _, rings = rings_of(img)
    ring = rings[0].points
    first = simplify_ring_batch([ring], [8.0], 160, 160)[0]
    fault = Faults(np.array([0]), first[:1], first[1:2])
    placed = _Refinement([ring], [8.0], [False])
    placed.deepen([0], fault)
    assert 0 < np.count_nonzero(placed.depth[0]) < len(ring)
    monkeypatch.setattr(contour_simplify, "TOL", replace(contour_simplify.TOL, fault_pairs=0))
    whole = _Refinement([ring], [8.0], [False])
    whole.deepen([0], fault)
    assert (whole.depth[0] == 1).all()


def test_budget_search_starts_at_the_first_step_tidying_could_bring_within_budget():
    # anchors per tolerance step; the outline keeps at least TOL.anchor_share of them, so a step
    # whose anchors are 1.5x the budget may still fit once tidied and must be tried, not skipped
    counts = {1: 30, 2: 15, 3: 11, 4: 9, 5: 7}
    budget = 10
    step = _first_feasible_step(lambda k: counts.get(k, 5), budget, steps=6)
    assert TOL.anchor_share * counts[step] <= budget < TOL.anchor_share * counts[step - 1]
    assert step < 4  # the plain count (9 <= 10) would start at step 4
    assert _first_feasible_step(lambda k: 10 * budget, budget, steps=6) == 5  # none may fit: the last step


def test_cleaning_and_tracing_without_empty_rows_gives_the_same_rings(monkeypatch):
    """Bands of sprites with empty rows between them (a pinch, holes, an island on the top border,
    specks under ``min_contour_area``, a band one empty row from the next): cleaned and traced
    without the empty rows, the mask and the rings (points, order, holes, islands) are exactly
    those of the whole mask."""
    from dataclasses import replace

    from pipelines import contour

    img = np.zeros((240, 200, 4), np.uint8)
    img[0:12, 10:40] = 255                                      # on the top border
    cv2.circle(img, (100, 60), 20, (255, 255, 255, 255), -1)
    cv2.circle(img, (100, 60), 6, (0, 0, 0, 0), -1)              # a hole
    img[120:130, 20:30] = img[130:140, 30:40] = 255             # a diagonal pinch
    img[141:160, 50:90] = 255                                    # one empty row after the pinch's band
    img[150:154, 60:80, 3] = 0                                   # a slot
    img[200, 150] = img[230:233, 5:8, 3] = 255                   # specks
    mask = build_mask(img[..., 3], ContourParams())
    assert contour._busy_rows(mask) is not None
    cleaned, rings = contour._cleaned_rings(mask, ContourParams(), 1)
    monkeypatch.setattr(contour, "TOL", replace(contour.TOL, busy_rows_share=0.0))
    assert contour._busy_rows(mask) is None
    whole, expected = contour._cleaned_rings(mask, ContourParams(), 1)
    assert np.array_equal(cleaned, whole)
    assert [(r.is_hole, r.island) for r in rings] == [(r.is_hole, r.island) for r in expected]
    assert all(np.array_equal(a.points, b.points) for a, b in zip(rings, expected, strict=True))
    assert len(expected) >= 6 and any(r.is_hole for r in expected)
