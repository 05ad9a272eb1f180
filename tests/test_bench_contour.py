"""The sprite benchmark's island count and its plain-Triangle comparison (bench/contour.py), on
hand-made results and outlines."""

from __future__ import annotations

import numpy as np

from bench.contour import islands_reaching_target, run_split_outline, triangle_alone
from pipelines.contour import _orient, triangulate
from pipelines.contour_params import ContourParams
from pipelines.contour_refine import min_angles, triangle_areas
from pipelines.contour_rings import Ring, signed_area
from tests.pipelines.test_contour_refine import SHIP


def two_squares(centre: tuple[float, float]) -> dict:
    """Two 10 px squares as a result: one split on its diagonal, one fanned from an inner vertex."""
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    shifted = square + np.array([20.0, 0.0])
    vertices = np.concatenate([square, shifted, [[20.0 + centre[0], centre[1]]]])
    triangles = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 8], [5, 6, 8], [6, 7, 8], [7, 4, 8]])
    loops = [[0, 1, 2, 3], [4, 5, 6, 7]]
    edges = [(loop[i], loop[(i + 1) % 4]) for loop in loops for i in range(4)]
    return {"vertices": vertices, "triangles": triangles, "boundary_edges": edges}


def test_an_island_counts_when_its_own_smallest_angle_reaches_its_target():
    """The fanned square reaches 45 degrees from its centre and 0.6 from a point by a corner, where
    its outline forces nothing under 20: one island of two misses, then none."""
    assert islands_reaching_target(two_squares((5.0, 5.0)), ContourParams()) == (2, 2)
    assert islands_reaching_target(two_squares((1.0, 0.1)), ContourParams()) == (2, 1)


def test_two_meshes_of_one_outline_share_each_islands_bound():
    """The bounds filled by one mesh serve another of the same outline (loops started elsewhere,
    vertices rounded differently), and a bound put there is the one used: told its outline forces
    0.1 degrees, the square fanned from near a corner (0.64 degrees) counts as reaching it."""
    bounds: dict[bytes, float] = {}
    first = two_squares((5.0, 5.0))
    assert islands_reaching_target(first, ContourParams(), bounds) == (2, 2)
    assert len(bounds) == 2
    second = {**first, "vertices": first["vertices"] + 1e-5,
              "boundary_edges": first["boundary_edges"][1:] + first["boundary_edges"][:1]}
    assert islands_reaching_target(second, ContourParams(), bounds) == (2, 2)
    assert len(bounds) == 2
    near_corner = two_squares((1.0, 0.1))
    assert islands_reaching_target(near_corner, ContourParams(), dict(bounds)) == (2, 1)
    assert islands_reaching_target(near_corner, ContourParams(), dict.fromkeys(bounds, 0.1)) == (2, 2)


def test_triangle_alone_keeps_the_outline_and_its_hole_and_is_what_refinement_improves_on():
    """On pyglet's ship with a square hole: Triangle alone splits no outline segment, leaves the hole
    empty, and its smallest angle is well under what ``triangulate`` reaches on the same outline."""
    outer = _orient(np.array(SHIP, dtype=float), False)
    hole = _orient(np.array([[20.0, 22.0], [26.0, 22.0], [26.0, 28.0], [20.0, 28.0]]), True)
    outline = [Ring(outer, False, 0), Ring(hole, True, 0)]
    alone = triangle_alone(outline, ContourParams())
    assert [len(loop) for loop in alone.loops] == [len(outer), len(hole)]
    assert {tuple(p) for p in alone.vertices[alone.hull]} == {tuple(p) for p in np.concatenate([outer, hole])}
    solid = abs(signed_area(outer)) - abs(signed_area(hole))
    assert np.isclose(triangle_areas(alone.vertices, alone.triangles).sum(), solid)
    ours = triangulate(outline, ContourParams())
    assert min_angles(alone.vertices, alone.triangles).min() + 3.0 < min_angles(ours.vertices, ours.triangles).min()


def test_split_outline_row_counts_sprites_against_the_split_outline_target():
    """A square reaches 20 degrees with its sides whole; a 1 x 12 px bar is held to 20 degrees (its
    1 px ends bound it at 28 with triangles of 1 px^2) and reaches 26.6 with its long sides split
    into 1.5 px pieces."""
    square = np.zeros((32, 32), np.uint8)
    square[8:24, 8:24] = 255
    bar = np.zeros((16, 16), np.uint8)
    bar[7, 2:14] = 255
    row = run_split_outline([np.dstack([a] * 4) for a in (square, bar)])
    assert row["meshed"] == 2
    assert row["min_angle_ok"] == 2
    assert row["min_angle_median"] >= 20
    assert row["hull_vertices_median"] > 4  # the bar's long sides are split
