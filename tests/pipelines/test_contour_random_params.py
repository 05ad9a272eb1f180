"""The sprite mesher under random valid parameters: every request either meshes, with the result's
promises kept, or fails with an ``InputError`` code. A seeded draw over the parameter ranges (and
the presets and switches) on the synthetic sprites; a longer run of the same kind over the corpus
found the density slivers ``capped_kept_valid`` now drops."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from pipelines.contour import mesh_rgba
from pipelines.contour_params import PRESETS, RANGES, ContourParams, make_params
from pipelines.contour_refine import triangle_areas
from pipelines.errors import InputError
from tests.pipelines.test_contour import (
    islands_sprite,
    noisy_sprite,
    ring_sprite,
    soft_sprite,
    star_sprite,
    thin_sprite,
)
from tests.pipelines.test_contour_refine import holes_sprite, long_short_sprite

SPRITES = [ring_sprite, islands_sprite, thin_sprite, noisy_sprite, soft_sprite, star_sprite, holes_sprite,
           long_short_sprite]
SPREAD = {"detail_factor", "min_contour_area", "density_scaling_factor", "min_triangle_area", "max_vertices"}
WHOLE = {"alpha_threshold", "internal_vertex_density", "blur_kernel_size", "binary_threshold", "padding_px",
         "max_vertices"}


def random_values(rng: random.Random) -> dict:
    """About half the parameters, each anywhere in its range (the ones spanning decades log-uniformly),
    some switches, and sometimes a preset under them."""
    values: dict = {}
    for name, (low, high) in RANGES.items():
        if rng.random() < 0.5:
            continue
        value = (math.exp(rng.uniform(math.log(max(low, 1e-3)), math.log(high))) if name in SPREAD
                 else rng.uniform(low, high))
        values[name] = round(value) if name in WHOLE else value
    for switch in ("all_islands", "holes", "outline_steiner"):
        if rng.random() < 0.3:
            values[switch] = rng.random() < 0.5
    if rng.random() < 0.3:
        values["preset"] = rng.choice(sorted(PRESETS))
    return values


def assert_promises(result: dict, params: ContourParams) -> None:
    """Indices in range, every vertex used, none flat, the budget kept, the interior triangles no
    smaller than ``min_triangle_area`` (less what the 4-decimal rounding can take), UVs in [0, 1]."""
    vertices, tris = np.asarray(result["vertices"], dtype=float), np.asarray(result["triangles"])
    assert len(vertices) <= params.max_vertices
    assert tris.min() >= 0 and tris.max() < len(vertices) and len(np.unique(tris)) == len(vertices)
    areas = triangle_areas(vertices, tris)
    assert areas.min() > 0
    interior = (tris >= result["hull"]).any(axis=1)
    if interior.any():
        assert areas[interior].min() >= params.min_triangle_area * (1 - 1e-4) - 1e-3
    uvs = np.asarray(result["uvs"])
    assert np.isfinite(uvs).all() and uvs.min() >= 0 and uvs.max() <= 1


@pytest.mark.parametrize("seed", range(8))
def test_random_valid_parameters_mesh_or_fail_with_a_code(seed):
    rng = random.Random(seed)
    images = [sprite() for sprite in SPRITES]
    for _ in range(12):
        values = random_values(rng)
        params = make_params(values)
        try:
            result = mesh_rgba(rng.choice(images), params)
        except InputError as exc:
            assert exc.code == "TRIANGULATION_FAILED" and params.max_vertices < 4, (values, exc)
            continue
        assert_promises(result, params)
