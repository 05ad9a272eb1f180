"""The sprite benchmark's island count (bench/contour.py), on hand-made results."""

from __future__ import annotations

import numpy as np

from bench.contour import islands_reaching_target
from pipelines.contour_params import ContourParams


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
    """The fanned square reaches 45 degrees from its centre and 5.7 from a point by a corner, where
    its outline forces nothing under 20: one island of two misses, then none."""
    assert islands_reaching_target(two_squares((5.0, 5.0)), ContourParams()) == (2, 2)
    assert islands_reaching_target(two_squares((1.0, 0.1)), ContourParams()) == (2, 1)
