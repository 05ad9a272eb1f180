"""The sprite mesher's compiled loops on small and degenerate rings (the corpus checks them whole:
their results are the numpy forms' bit for bit, sha256 over every sprite and preset)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import triangle

from pipelines.contour_kernels import (
    clip_to_box,
    corner_pixels,
    crossing_edges,
    cutting_edges,
    delaunay_flips,
    dp_anchors,
    drop_repeats,
    hole_points,
    near_segments,
    offset_outline,
    offset_rings,
    short_merges,
    tidy,
)


def ring_of(*rings: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Points and owners of consecutive rings."""
    points = np.array([p for r in rings for p in r], dtype=float).reshape(-1, 2)
    return points, np.repeat(np.arange(len(rings)), [len(r) for r in rings]).astype(np.int64)


def test_clip_cuts_exactly_on_the_box_and_keeps_each_point_source():
    points, owner = ring_of([[-2, 1], [2, 1], [2, 3], [-2, 3]])
    out, out_owner, source = clip_to_box(points, owner, 1, 10.0, 10.0)
    assert sorted(map(tuple, out.tolist())) == [(0, 1), (0, 3), (2, 1), (2, 3)]
    assert (out[:, 0] >= 0).all() and (out_owner == 0).all()
    assert set(source.tolist()) <= {0, 1, 2, 3}


def test_clip_of_no_points_and_of_a_ring_wholly_outside():
    empty = np.zeros((0, 2))
    out, owner, source = clip_to_box(empty, np.zeros(0, dtype=np.int64), 1, 4.0, 4.0)
    assert out.shape == (0, 2) and len(owner) == len(source) == 0
    points, owner = ring_of([[5, 5], [6, 5], [6, 6]], [[1, 1], [2, 1], [2, 2]])
    out, out_owner, _ = clip_to_box(points, owner, 2, 4.0, 4.0)
    assert out_owner.tolist() == [1, 1, 1]  # the first ring is gone, the second kept as it was
    assert np.array_equal(out, points[3:])


def test_drop_repeats_drops_duplicates_then_collinear_points_per_ring():
    square = [[0, 0], [0, 0], [1, 0], [2, 0], [2, 2], [0, 2]]  # a repeat, then a point on a side
    points, owner = ring_of(square, [[3, 3]] * 4, [[0, 0], [1, 1], [2, 2]])
    kept = drop_repeats(points, owner, 4)  # ring 3 has no points at all
    assert kept.tolist() == [0, 3, 4, 5]  # the all-repeat ring and the collinear one are empty


def test_tidy_leaves_small_rings_and_reports_no_change():
    points, owner = ring_of([[0, 0], [4, 0], [0, 4]])
    out, out_owner, _, changed = tidy(points, owner, 1, np.ones(3), 10.0, 10.0)
    assert not changed and np.array_equal(out, points) and out_owner.tolist() == [0, 0, 0]


def test_tidy_drops_a_shallow_notch_and_keeps_its_neighbours():
    # a square (solid on the left of the walk) with a 0.2 px dent into it at the middle of a side
    ring = [[0, 0], [10, 0], [10, 10], [5, 9.8], [0, 10]]
    points, owner = ring_of(ring)
    out, _, tol, changed = tidy(points, owner, 1, np.full(5, 1.0), 20.0, 20.0)
    assert changed and [5, 9.8] not in out.tolist() and len(out) == len(tol) == 4


def test_offset_of_a_square_whose_points_are_its_anchors_is_the_square():
    square = np.array([[0.0, 0.0], [0.0, 2.0], [2.0, 2.0], [2.0, 0.0]])
    u = (np.roll(square, -1, axis=0) - square) / 2.0
    normal = np.stack([u[:, 1], -u[:, 0]], axis=1)
    index = np.arange(4)
    points, source = offset_outline(square, square, u, normal, index, np.roll(index, -1), np.roll(index, 1),
                                    np.ones(4))
    assert np.allclose(points, square) and source.tolist() == [0, 1, 2, 3]


def test_short_merges_take_the_least_area_way_within_reach_on_rings_of_four_points_or_more():
    step = np.array([[0, 0], [10, 0], [10, 10], [5, 10], [5, 10.5], [0, 10.5]], dtype=float)  # a 0.5 px step
    nxt, prv, one = np.roll(np.arange(6), -1), np.roll(np.arange(6), 1), np.zeros(6, dtype=np.int64)
    limits = 0.34, np.cos(np.radians(20.0))  # TOL.merge_short_ratio, the cosine of TOL.merge_corner_deg
    b, way, _, added = short_merges(step, nxt, prv, one, np.array([6]), np.array([np.inf]), 20.0, 20.0, *limits)
    # B (5, 10) -> C (5, 10.5): the ring turns outward at B only, so B is dropped: triangle A B C
    assert b.tolist() == [3] and way.tolist() == [1] and added.tolist() == [pytest.approx(1.25)]
    # that moves the outline 2 * 1.25 / |A C| = 0.497 px off the chord: past a reach of 0.4, no way serves
    assert np.isinf(short_merges(step, nxt, prv, one, np.array([6]), np.array([0.4]), 20.0, 20.0, *limits)[3]).all()
    sliver = np.array([[0, 0], [10, 0], [10, 0.1]])  # its short side, but three points must stay three
    three = np.roll(np.arange(3), -1), np.roll(np.arange(3), 1), np.zeros(3, dtype=np.int64)
    assert not len(short_merges(sliver, *three, np.array([3]), np.array([np.inf]), 20.0, 20.0, *limits)[0])


def test_corner_pixels_are_the_set_pixels_with_none_above_or_left_in_row_order():
    solid = np.random.default_rng(3).random((40, 50)) < 0.4
    corner = solid.copy()
    corner[1:] &= ~solid[:-1]
    corner[:, 1:] &= ~solid[:, :-1]
    ys, xs = np.nonzero(corner)
    assert np.array_equal(corner_pixels(solid), np.stack([xs, ys], axis=1))
    assert corner_pixels(np.zeros((3, 4), dtype=bool)).shape == (0, 2)


def test_cutting_edges_through_a_pixel_and_along_a_border_between_two():
    solid = np.zeros((4, 4), dtype=bool)
    solid[1, 1] = solid[1, 2] = True
    a = np.array([[0.5, 0.0], [2.0, 1.0], [3.0, 0.0], [1.0, 3.0]])
    b = np.array([[2.5, 3.0], [2.0, 2.0], [3.0, 4.0], [3.0, 3.0]])
    # through pixel (1, 1); along the border x = 2 between two solid pixels; along x = 3 with one
    # solid side only; along a row of empty pixels
    assert cutting_edges(a, b, solid).tolist() == [0, 1]


def test_crossing_edges_skip_a_ring_s_adjacent_edges_and_find_a_crossing():
    bow = np.array([[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0]])  # a bow tie: edges 0 and 2 cross
    square = np.array([[5.0, 0.0], [6.0, 0.0], [6.0, 1.0], [5.0, 1.0]])
    a = np.concatenate([bow, square])
    b = np.concatenate([np.roll(bow, -1, axis=0), np.roll(square, -1, axis=0)])
    owner = np.repeat(np.arange(2), 4)
    local = np.tile(np.arange(4), 2)
    found = crossing_edges(a, b, owner, local, np.array([4, 4]), np.minimum(a[:, 0], b[:, 0]),
                           np.maximum(a[:, 0], b[:, 0]))
    assert found.tolist() == [0, 2]


def test_angle_terms_give_the_smallest_angle_of_each_triangle():
    from pipelines.contour_refine import min_angles

    points = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, np.sqrt(3.0)], [0.0, 2.0], [4.0, 0.0]])
    tris = np.array([[0, 1, 2], [0, 1, 3], [0, 4, 3]])  # equilateral, right isosceles, 1 x 2 right
    assert np.allclose(min_angles(points, tris), [60.0, 45.0, np.degrees(np.arctan2(2, 4))])
    assert np.array_equal(min_angles(points, tris), min_angles(points, tris.astype(np.int32)))


def test_hole_point_lies_inside_the_hole_and_a_ray_that_meets_nothing_is_reported():
    outer = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    hole = [[3.0, 3.0], [3.0, 7.0], [7.0, 7.0], [7.0, 3.0]]  # solid on the left: clockwise in y-down
    points, _ = ring_of(outer, hole)
    nxt = np.array([1, 2, 3, 0, 5, 6, 7, 4])
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [3.0, 3.0, 7.0, 7.0]])
    found, ok = hole_points(points, points[nxt], np.array([0, 4]), np.array([4, 4]), np.array([1]), boxes)
    assert ok and 3 < found[0, 0] < 7 and 3 < found[0, 1] < 7
    lone = hole_points(points[4:], points[nxt[4:] - 4], np.array([0]), np.array([2]), np.array([0]), boxes[1:])
    assert not lone[1]  # two segments do not close a region: no segment in front of the ray


def test_near_segments_measures_only_the_pairs_given():
    points = np.array([[0.0, 1.0], [5.0, 0.5], [5.0, 3.0]])
    a, b = np.array([[0.0, 0.0]]), np.array([[10.0, 0.0]])
    reach = np.ones(3)
    assert near_segments(points, reach, np.arange(3), np.array([0]), np.array([3]), a, b).tolist() == \
        [True, True, False]
    assert near_segments(points, reach, np.arange(3), np.array([1]), np.array([2]), a, b).tolist() == \
        [False, True, False]


def test_winding_numbers_match_the_whole_grid_raster():
    from pipelines.contour_geometry import winding_at, winding_grid
    from pipelines.contour_rings import ring_edges

    rng = np.random.default_rng(3)
    rings = [rng.uniform(0, 30, size=(12, 2)), rng.uniform(5, 25, size=(7, 2))]  # self-crossing, overlapping
    grid = winding_grid(rings, 32, 32)
    ys, xs = np.mgrid[0:32, 0:32]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    assert np.array_equal(winding_at(*ring_edges(rings), centres, 32), grid.ravel())
    assert np.abs(grid).max() >= 1


def test_offset_rings_keeps_a_ring_of_anchors_and_drops_one_with_too_few():
    square = [[0.0, 0.0], [0.0, 2.0], [2.0, 2.0], [2.0, 0.0]]  # solid on the left: clockwise in y-down
    strip = [[4.0, 0.0], [4.0, 1.0], [5.0, 1.0], [5.0, 0.0]]
    points, _ = ring_of(square, strip)
    kept = np.array([0, 1, 2, 3, 4, 6])  # every point of the square, two of the strip
    out, sizes, alive, areas = offset_rings(points, np.array([0, 4, 8]), kept, np.ones(6), 10.0, 10.0)
    assert alive.tolist() == [True, False] and sizes.tolist() == [4, 0]
    assert sorted(map(tuple, out.tolist())) == sorted(map(tuple, square))
    assert abs(areas[0]) == 4.0


def _approx_indices(ring: np.ndarray, tol: float) -> list[int]:
    """Indices of the points cv2.approxPolyDP keeps on a ring of distinct points, sorted."""
    kept = cv2.approxPolyDP(ring, tol, True).reshape(-1, 2)
    return sorted(int(np.flatnonzero((ring == p).all(axis=1))[0]) for p in kept)


def test_dp_anchors_keep_what_approx_poly_dp_keeps():
    rng = np.random.default_rng(5)
    rings, tols = [], []
    for k in range(300):  # integer corners, scattered floats and noisy circles; distinct points each
        n = int(rng.integers(3, 50))
        if k % 3 == 0:
            ring = rng.permutation(np.mgrid[0:20, 0:20].reshape(2, -1).T)[:n].astype(np.float32)
        elif k % 3 == 1:
            ring = (rng.normal(size=(n, 2)) * rng.uniform(0.1, 100)).astype(np.float32)
        else:
            t = np.sort(rng.uniform(0, 2 * np.pi, n))
            circle = np.stack([np.cos(t), np.sin(t)], 1) * rng.uniform(1, 500)
            ring = (circle + rng.normal(size=(n, 2))).astype(np.float32)
        rings.append(ring)
        tols.append(float(rng.uniform(0, 5)))
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
    kept, counts = dp_anchors(np.concatenate(rings), offsets, np.array(tols))
    assert counts.sum() == len(kept) and (counts >= 1).all()
    pieces = np.split(kept, np.cumsum(counts)[:-1])
    for ring, tol, piece, lo in zip(rings, tols, pieces, offsets[:-1], strict=True):
        assert (piece - lo).tolist() == _approx_indices(ring, tol)


def test_dp_anchors_of_a_single_point_and_of_a_ring_within_tolerance():
    points = np.array([[3.0, 3.0], [0.0, 0.0], [0.5, 0.1], [1.0, 0.0]], dtype=np.float32)
    kept, counts = dp_anchors(points, np.array([0, 1, 4]), np.array([1.0, 5.0]))
    assert counts.tolist() == [1, 1] and kept.tolist()[0] == 0 and 1 <= kept[1] <= 3


def test_refined_check_measures_only_triangles_with_a_steiner_vertex_and_finds_unused_ones():
    from pipelines.contour_kernels import refined_check

    vertices = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [1.0, 1.0], [9.0, 9.0]])
    tris = np.array([[0, 1, 2], [0, 1, 3]], dtype=np.int32)  # areas 8 and 2; vertex 4 unused
    assert refined_check(vertices, tris, 3) == (2.0, False)
    assert refined_check(vertices[:4], tris, 4) == (np.inf, True)


def test_strided_coverage_counts_the_cells_the_raster_fills():
    from pipelines.contour_kernels import strided_coverage
    from pipelines.contour_metrics import rasterize_loops
    from pipelines.contour_rings import ring_edges

    rng = np.random.default_rng(7)
    for _ in range(40):  # self-crossing loops reaching past the image, on strided grids
        alpha = rng.integers(0, 3, size=(90, 130)).astype(np.uint8) * 100
        loops = [rng.uniform(-10, 60, size=(int(rng.integers(3, 20)), 2)) for _ in range(int(rng.integers(1, 4)))]
        stride = int(rng.integers(2, 5))
        first = stride // 2
        grid = alpha[first::stride, first::stride]
        inside = rasterize_loops(loops, grid.shape[1], grid.shape[0], 1)
        expected = (np.count_nonzero(inside & (grid >= 150)), np.count_nonzero(grid >= 150),
                    np.count_nonzero(inside), np.count_nonzero(inside & (grid == 0)))
        assert strided_coverage(*ring_edges(loops), alpha, 150, first, stride) == expected  # loops in grid units


def test_spread_points_keeps_the_tallest_of_close_points_and_none_near_a_vertex():
    from pipelines.contour_kernels import spread_points

    points = np.array([[5.0, 5.0], [5.5, 5.0], [9.0, 9.0], [0.2, 0.0]])
    height = np.array([1.0, 4.0, 1.0, 4.0])  # [0.2, 0] is tall but beside vertex (0, 0)
    out = spread_points(points, height, np.array([[0.0, 0.0], [20.0, 20.0]]))
    assert out.tolist() == [[5.5, 5.0], [9.0, 9.0]]  # tallest first; [5, 5] is within half a height of it


def test_apex_candidates_of_a_sliver_on_a_segment_and_of_a_lone_triangle():
    from pipelines.contour_kernels import apex_candidates

    vertices = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [5.0, 0.5], [4.0, 4.0], [6.0, 4.0],
                         [5.0, 7.0]])
    seg = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])  # a square walked counter-clockwise (y up)
    tris = np.array([[0, 1, 4], [5, 6, 7]])  # a sliver on the bottom segment; a triangle with no segment
    mid, inward, length, clear, centres, radius = apex_candidates(vertices, tris, seg, np.sqrt(3) / 2)
    assert mid.tolist() == [[5.0, 0.0]] and inward.tolist() == [[-0.0, 1.0]] and length.tolist() == [10.0]
    assert clear.tolist() == [10.0]  # the top segment, under the cap of sqrt(3) * 10
    assert np.allclose(centres, [[5.0, 16 / 3]]) and np.allclose(radius, [5 / 3])


def test_label_sizes_match_opencv_stats():
    from pipelines.contour_kernels import label_sizes

    rng = np.random.default_rng(2)
    mask = cv2.dilate((rng.random((60, 90)) < 0.01).astype(np.uint8), np.ones((3, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    assert count > 5 and np.array_equal(label_sizes(labels, count), stats[1:, 2:4])
    assert label_sizes(np.zeros((3, 3), dtype=np.int32), 1).shape == (0, 2)


def test_warm_compiles_every_layout_meshing_uses():
    """In a fresh process: after warm(), meshing a sheet where refinement takes one island out of the
    mesh (int64 triangles) and a large image (strided coverage) compiles no kernel again: a contour
    worker pays no compile on its first jobs."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import cv2, numpy as np
from pipelines import contour_kernels as k
from pipelines.contour import mesh_rgba
from pipelines.contour_params import ContourParams
k.warm()
kernels = {n: f for n, f in vars(k).items() if hasattr(f, "signatures")}
before = {n: len(f.signatures) for n, f in kernels.items()}
sheet = np.zeros((128, 256, 4), np.uint8)
cv2.fillPoly(sheet, [np.array([[5, 60], [122, 52], [122, 70]], np.int32)], (255, 255, 255, 255))  # slivers
cv2.rectangle(sheet, (160, 30), (220, 90), (255, 255, 255, 255), -1)  # a square that needs nothing
big = np.zeros((700, 900, 4), np.uint8)
cv2.circle(big, (450, 350), 300, (255, 255, 255, 255), -1, cv2.LINE_AA)
for img in (sheet, big):
    mesh_rgba(img, ContourParams())
grown = {n: len(f.signatures) - before[n] for n, f in kernels.items() if len(f.signatures) != before[n]}
assert not grown, grown
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2], timeout=300)


def _triangle_set(tris: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(sorted(t)) for t in np.asarray(tris).tolist()}


def test_delaunay_flips_turn_a_skinny_diagonal_unless_it_is_a_segment():
    # a kite: the long diagonal 0-2 makes two slivers, the short one 1-3 two fat triangles
    points = np.array([[0.0, 0.0], [5.0, -1.0], [10.0, 0.0], [5.0, 1.0]])
    tris = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)
    outline = np.array([[0, 1], [1, 2], [2, 3], [3, 0]], dtype=np.int64)
    flipped, done = delaunay_flips(points, tris, outline)
    assert done and _triangle_set(flipped) == {(0, 1, 3), (1, 2, 3)}
    kept, done = delaunay_flips(points, tris, np.concatenate([outline, [[2, 0]]]))
    assert done and _triangle_set(kept) == _triangle_set(tris)


@pytest.mark.parametrize("seed", range(5))
def test_delaunay_flips_reach_triangle_s_constrained_delaunay_mesh(seed):
    # a fan over a convex polygon (valid, far from Delaunay), one of its diagonals a segment: flipped
    # to Triangle's own mesh
    rng = np.random.default_rng(seed)
    angle = np.sort(rng.uniform(0, 2 * np.pi, 14))
    points = np.column_stack([12 * np.cos(angle), 7 * np.sin(angle)])  # on an ellipse: convex
    fan = np.array([[0, i, i + 1] for i in range(1, 13)], dtype=np.int32)
    segments = np.array([[i, (i + 1) % 14] for i in range(14)] + [[0, 7]], dtype=np.int64)
    flipped, done = delaunay_flips(points, fan, segments)
    expected = triangle.triangulate({"vertices": points, "segments": segments}, "pYYQ")["triangles"]
    assert done and _triangle_set(flipped) == _triangle_set(expected)
    corners = points[flipped]
    assert (np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]) > 0).all()
