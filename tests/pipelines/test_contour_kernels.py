"""The sprite mesher's compiled loops on small and degenerate rings (the corpus checks them whole:
their results are the numpy forms' bit for bit, sha256 over every sprite and preset)."""

from __future__ import annotations

import numpy as np

from pipelines.contour_kernels import clip_to_box, drop_repeats, offset_outline, tidy


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
