"""Rule tier on generated parts: right labels per class, equal on moved, turned, scaled copies."""

from __future__ import annotations

import pytest

from onnx_models.generate_parts import generate_part, random_transform, transform_shape
from pipelines.cad_analysis import analyze_cad
from pipelines.features_rules import CLASSES, depression_kind


def _labels(step: bytes) -> list[str]:
    return [f["label"] for f in analyze_cad(step, "step").report["faces"]]


@pytest.mark.parametrize("kind", [k for k in CLASSES if k != "stock"])
def test_each_feature_class(kind):
    part = generate_part(7, kind=kind)
    assert kind in part.labels
    assert _labels(part.step) == part.labels


@pytest.mark.parametrize("seed", range(8))
def test_random_parts(seed):
    part = generate_part(100 + seed)
    assert _labels(part.step) == part.labels


@pytest.mark.parametrize("seed", range(6))
def test_rotated_translated_scaled_copies(seed):
    plain = generate_part(200 + seed)
    moved = generate_part(200 + seed, transform=random_transform(seed))
    assert moved.labels == plain.labels
    assert _labels(moved.step) == _labels(plain.step) == plain.labels


def test_scale_only_keeps_dimensions_relative():
    plain = analyze_cad(generate_part(11, kind="hole_blind").step, "step").report
    big = analyze_cad(generate_part(11, kind="hole_blind", transform=lambda s: transform_shape(s, scale=3.0)).step,
                      "step").report
    d0 = next(f for f in plain["features"] if f["type"] == "hole_blind")["dimensions"]
    d1 = next(f for f in big["features"] if f["type"] == "hole_blind")["dimensions"]
    assert d1["diameter"] == pytest.approx(3 * d0["diameter"], rel=1e-3)
    assert d1["depth"] == pytest.approx(3 * d0["depth"], rel=1e-2)


def test_hole_features_carry_axis_and_dimensions():
    report = analyze_cad(generate_part(2, kind="hole_through").step, "step").report
    hole = next(f for f in report["features"] if f["type"] == "hole_through")
    assert hole["dimensions"]["diameter"] > 0 and hole["dimensions"]["depth"] > 0
    assert len(hole["axis"]) == 3 and 0 < hole["confidence"] <= 1


@pytest.mark.parametrize(("sides", "kind"), [
    ([(2, "max")], "pocket_blind"),
    ([(2, "max"), (2, "min")], "pocket_through"),
    ([(2, "max"), (1, "min")], "slot_blind"),
    ([(2, "max"), (1, "min"), (1, "max")], "slot_through"),
    ([(2, "max"), (1, "min"), (0, "min")], "step_blind"),
    ([(2, "max"), (1, "min"), (1, "max"), (0, "min")], "step_through"),
])
def test_depression_kind(sides, kind):
    assert depression_kind(sides) == kind
