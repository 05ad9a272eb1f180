"""The held-out generator: deterministic, principled labels, and the rule tier on its parts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from onnx_models import generate_holdout as gh
from onnx_models import generate_parts as gp
from onnx_models.generate_parts import LabelledShape
from pipelines.brep_graph import describe_face
from pipelines.cad_analysis import analyze_cad
from pipelines.features_rules import CLASSES


def _labels(step: bytes) -> list[str]:
    return [f["label"] for f in analyze_cad(step, "step").report["faces"]]


def test_docstring_defines_every_class():
    doc = gh.__doc__
    for c in CLASSES:
        assert f"``{c}``" in doc, c
    for word in ("open", "wall", "floor"):
        assert word in doc


def test_deterministic_from_seed():
    a, b = gh.make_holdout(1003), gh.make_holdout(1003)
    assert a.labels == b.labels and a.kind == b.kind
    assert gh.generate_holdout(1003).labels == gh.generate_holdout(1003).labels


def test_placement_rotates_about_an_arbitrary_axis_and_scales():
    t = gh.placement(1001)
    rot = np.array([[t.Value(i, j) for j in range(1, 4)] for i in range(1, 4)])
    scale = abs(np.linalg.det(rot)) ** (1 / 3)
    r = rot / scale
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert not any(np.allclose(np.abs(r[:, k]), np.eye(3)[j]) for k in range(3) for j in range(3))


@pytest.mark.parametrize("seed", [1001, 1002, 1005, 1006, 1009, 1012])
def test_held_out_parts(seed):
    part = gh.generate_holdout(seed)
    assert len(set(part.labels)) >= 3
    assert _labels(part.step) == part.labels


def test_placed_and_unplaced_agree():
    assert _labels(gh.generate_holdout(1010).step) == _labels(gh.generate_holdout(1010, place=False).step)


# ---- one generated part per new rule, placed (rotated, scaled, moved) ---------------------------

def _block(L: float = 100.0, W: float = 60.0, H: float = 30.0) -> tuple[LabelledShape, dict[str, gh.Side]]:
    return LabelledShape(gp.box(0, 0, 0, L, W, H), ["stock"] * 6), gh.box_sides(L, W, H)


def _check(part: LabelledShape, seed: int, expect: set[str]) -> None:
    gen = gh.to_part(part, seed)
    assert expect <= set(gen.labels)
    assert _labels(gen.step) == gen.labels


def test_slot_cut_into_step_floor_is_typed_by_its_own_walls():
    part, sides = _block()
    top = sides["top"]
    part = gh.cut(part, top.place(gp.box(-1, -1, -12, 40, 61, 1)), "step_through")
    part = gh.cut(part, top.place(gp.box(15, -1, -20, 25, 61, -11.5)), "slot_through")
    _check(part, 1, {"step_through", "slot_through"})


def test_floor_fillets_versus_pocket_corner_radii():
    part, sides = _block()
    top = sides["top"]
    part = gh.pocket(part, top, 10, 10, 45, 50, 12, 0.0)
    part = gh.floor_fillet(part, top, 10, 10, 45, 50, -12, 3.0)
    part = gh.pocket(part, top, 60, 15, 90, 45, 10, 5.0)   # corner radii stay in the pocket
    _check(part, 2, {"fillet", "pocket_blind"})


def test_pocket_with_hole_in_floor_and_blind_hole_at_its_bottom():
    part, sides = _block()
    top = sides["top"]
    rng = np.random.default_rng(0)
    part = gh.pocket(part, top, 10, 10, 45, 50, 10, 4.0)
    part = gh.drill(part, top, 27, 30, 4.0, None, rng, z_top=-10, entry="counterbore")
    part = gh.pocket(part, top, 55, 10, 90, 50, 8, 0.0)
    part = gh.drill(part, top, 72, 30, 3.0, 6.0, rng, z_top=-8)
    _check(part, 3, {"pocket_blind", "hole_through", "hole_blind"})


def test_recess_between_larger_diameters_is_a_groove():
    part = gh.revolved(np.array([20.0, 12.0, 16.0, 25.0, 18.0]), np.array([0.0, 15, 30, 45, 60, 80]))
    assert part.labels.count("groove") >= 4      # two recessed diameters and their shoulders
    _check(part, 4, {"groove", "turn_od", "turn_face"})


def test_boss_with_chamfered_or_rounded_top_keeps_its_cap():
    for label, seed in (("chamfer", 5), ("fillet", 6)):
        part, sides = _block()
        top = sides["top"]
        part = gh.fuse(part, top.place(gp.cylinder(50, 30, 0, 10, 8)), "boss")
        part = gh.blend(part, gh._circle_edges(part.shape, top.point(50, 30, 8), 10, 1e-6), 1.5, label)
        _check(part, seed, {"boss", label})


def test_rectangular_boss_and_hole_through_a_boss():
    part, sides = _block()
    top = sides["top"]
    rng = np.random.default_rng(1)
    part = gh.fuse(part, top.place(gp.box(10, 15, 0, 40, 45, 8)), "boss")
    part = gh.fuse(part, top.place(gp.cylinder(70, 30, 0, 10, 12)), "boss")
    part = gh.drill(part, top, 70, 30, 4.0, None, rng, z_top=12)
    _check(part, 7, {"boss", "hole_through", "stock"})


def test_island_left_at_stock_height_has_a_stock_top():
    part, sides = _block()
    top = sides["top"]
    part = gh.cut(part, top.place(gp.box(-1, -1, -10, 101, 61, 1)), "step_through")
    part = gh.fuse(part, top.place(gp.box(20, 20, -10, 40, 40, 0)), "boss")
    part = gh.fuse(part, top.place(gp.box(60, 20, -10, 80, 40, 0)), "boss")
    gen = gh.to_part(part, 8)
    labels = _labels(gen.step)
    assert labels.count("boss") == 8           # two islands' walls; their tops are uncut stock
    assert labels.count("stock") == gen.labels.count("stock") + 2


def test_countersink_cutting_right_through_a_thin_floor_is_a_hole():
    part, sides = _block(H=10.0)
    top = sides["top"]
    part = gh.cut(part, top.place(gp.box(-1, -1, -8, 40, 61, 1)), "step_through")
    # a 90-degree cone from r = 1 (below the part) to r = 5 (above the 2-thick floor): no bore left
    cone = gh.BRepPrimAPI_MakeCone(gh.gp_Ax2(gh.gp_Pnt(20, 30, -11), gh.gp_Dir(0, 0, 1)), 1.0, 5.0, 4.0).Shape()
    part = gh.cut(part, top.place(cone), "hole_through")
    assert not any(describe_face(i, f).surface_type == "cylinder"
                   for i, f in enumerate(gh.face_list(part.shape)))
    gen = gh.to_part(part, 9)
    report = analyze_cad(gen.step, "step").report
    assert [f["label"] for f in report["faces"]] == gen.labels
    hole = next(f for f in report["features"] if f["type"] == "hole_through")
    assert hole["dimensions"]["diameter"] > 0


def test_bore_severed_by_a_cross_hole_is_one_blind_hole():
    part = gh.revolved(np.array([20.0]), np.array([0.0, 200]))
    part = gh.cut(part, gp.cylinder(0, 0, 150, 4.0, 51), "hole_blind")
    tool = gh.BRepPrimAPI_MakeCylinder(gh.gp_Ax2(gh.gp_Pnt(-25, 0, 170), gh.gp_Dir(1, 0, 0)), 5.0, 50).Shape()
    part = gh.cut(part, tool, "hole_through")
    _check(part, 10, {"hole_blind", "hole_through"})


def test_drill_point_closes_a_hole_but_a_cone_between_bores_does_not():
    part, sides = _block(H=40.0)
    top = sides["top"]
    # blind: a bore ending in a 118-degree drill point
    tip = math.tan(math.radians(59.0))
    part = gh.cut(part, top.place(gp.cylinder(30, 30, -20, 4.0, 21)), "hole_blind")
    cone = gh.BRepPrimAPI_MakeCone(gh.gp_Ax2(gh.gp_Pnt(30, 30, -20 - 4.0 / tip), gh.gp_Dir(0, 0, 1)), 0.0, 4.0,
                                   4.0 / tip).Shape()
    part = gh.cut(part, top.place(cone), "hole_blind")
    # through: a wide bore narrowing through a cone into a small one
    part = gh.cut(part, top.place(gp.cylinder(70, 30, -15, 6.0, 16)), "hole_through")
    part = gh.cut(part, top.place(gh.BRepPrimAPI_MakeCone(gh.gp_Ax2(gh.gp_Pnt(70, 30, -18), gh.gp_Dir(0, 0, 1)),
                                                          3.0, 6.0, 3.0).Shape()), "hole_through")
    part = gh.cut(part, top.place(gp.cylinder(70, 30, -41, 3.0, 24)), "hole_through")
    _check(part, 11, {"hole_blind", "hole_through"})
