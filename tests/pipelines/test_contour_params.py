"""Sprite mesher parameters: seed 002 defaults and ranges, presets, validation."""

from __future__ import annotations

import pytest

from pipelines.contour_params import PRESETS, RANGES, ContourParams, make_params
from pipelines.errors import InputError


def test_seed_defaults():
    p = make_params()
    assert (p.detail_factor, p.alpha_threshold, p.concave_factor, p.internal_vertex_density) == (0.01, 10, 0.0, 0)
    assert (p.blur_kernel_size, p.binary_threshold, p.min_contour_area) == (1, 128, 10.0)
    assert (p.density_scaling_factor, p.min_triangle_area) == (1000.0, 1.0)
    assert p.all_islands and p.holes and p.padding_px == 0
    assert RANGES["detail_factor"] == (0.001, 0.05) and RANGES["blur_kernel_size"] == (1, 21)


def test_presets_and_overrides():
    assert set(PRESETS) == {"high_detail", "balanced", "performance", "simple_shapes"}
    hd = make_params(preset="high_detail")
    assert hd.detail_factor == 0.03 and hd.internal_vertex_density == 20
    perf = make_params({"preset": "performance", "max_vertices": 50})
    assert perf.detail_factor == 0.004 and perf.max_vertices == 50
    simple = make_params(preset="simple_shapes")
    assert simple.concave_factor == 6.0 and simple.blur_kernel_size == 5
    assert make_params(preset="balanced").internal_vertex_density == 4


def test_even_blur_becomes_odd():
    assert make_params({"blur_kernel_size": 4}).blur_kernel_size == 5


def test_every_bad_field_listed():
    with pytest.raises(InputError) as err:
        make_params({"detail_factor": 0.5, "alpha_threshold": -1, "holes": "yes", "bogus": 1,
                     "max_vertices": 2.5, "preset": "fast", "binary_threshold": True})
    assert err.value.code == "INVALID_PARAMETER"
    assert set(err.value.details["fields"]) == {"detail_factor", "alpha_threshold", "holes", "bogus",
                                                "max_vertices", "preset", "binary_threshold"}


def test_as_dict_round_trip():
    p = make_params({"padding_px": 2})
    assert make_params(p.as_dict()) == p == ContourParams(padding_px=2)
