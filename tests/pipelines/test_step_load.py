"""Validation stages of the STEP reader: one error code per bad input, counts for odd ones."""

from __future__ import annotations

import pytest
from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge, BRepBuilderAPI_MakeWire
from OCP.gp import gp_Pnt

from onnx_models.generate_parts import LabelledShape, box, cut, cylinder, generate_part, shape_to_step
from pipelines.errors import InputError, TooComplexError
from pipelines.step_load import load_step, quality_score


@pytest.fixture(scope="module")
def good_step() -> bytes:
    return generate_part(3, kind="hole_through").step


def _code(data: bytes, **kw) -> str:
    with pytest.raises(InputError) as info:
        load_step(data, **kw)
    return info.value.code


def test_empty_file():
    assert _code(b"") == "CAD_FILE_EMPTY"


def test_too_large(good_step):
    assert _code(good_step, max_bytes=100) == "CAD_FILE_TOO_LARGE"


def test_binary_junk_named_step():
    assert _code(bytes(range(256)) * 40) == "CAD_INVALID_HEADER"


def test_truncated(good_step):
    assert _code(good_step[: len(good_step) // 2]) == "CAD_TRUNCATED"


def test_wrong_schema(good_step):
    text = good_step.decode()
    start = text.index("FILE_SCHEMA")
    end = text.index(";", start)
    bad = text[:start] + "FILE_SCHEMA(('MADE_UP_SCHEMA'))" + text[end:]
    assert _code(bad.encode()) == "CAD_UNSUPPORTED_SCHEMA"


def test_no_roots(good_step):
    head = good_step[: good_step.index(b"DATA;")]
    assert _code(head + b"DATA;\nENDSEC;\nEND-ISO-10303-21;\n") == "CAD_NO_ROOTS"


def test_only_a_wire():
    edge = BRepBuilderAPI_MakeEdge(gp_Pnt(0, 0, 0), gp_Pnt(10, 0, 0)).Edge()
    wire = BRepBuilderAPI_MakeWire(edge).Wire()
    with pytest.raises(InputError) as info:
        load_step(shape_to_step(wire))
    assert info.value.code == "CAD_NO_GEOMETRY"
    assert info.value.details["stage"] == "geometry"
    assert [s["stage"] for s in info.value.details["stages"]] == ["file", "format", "parse", "geometry"]


def test_huge_part_too_complex():
    part = LabelledShape(box(0, 0, 0, 200, 200, 10), ["stock"] * 6)
    for i in range(6):
        for j in range(6):
            part = cut(part, cylinder(20 + 30 * i, 20 + 30 * j, -1, 4, 12), "hole_through")
    with pytest.raises(TooComplexError) as info:
        load_step(shape_to_step(part.shape), max_faces=20)
    assert info.value.code == "CAD_TOO_COMPLEX"
    assert info.value.details["faces"] > 20


def test_stages_and_score(good_step):
    loaded = load_step(good_step)
    assert [s["stage"] for s in loaded.stages] == ["file", "format", "parse", "geometry", "quality"]
    assert all(s["ok"] for s in loaded.stages)
    assert loaded.info["quality_score"] == 1.0
    assert loaded.info["solids"] == 1 and loaded.info["open_shells"] == 0
    assert loaded.info["units"] == "mm"


def test_quality_score_penalises_defects():
    clean = {"valid": True, "edges": 10, "faces": 5, "solids": 1}
    open_shell = {"valid": True, "edges": 10, "free_edges": 4, "faces": 5, "solids": 0}
    assert quality_score(clean) == 1.0
    assert 0.0 <= quality_score(open_shell) < 0.8


def test_occt_prints_nothing(good_step, capfd):
    shape_to_step(box(0, 0, 0, 1, 1, 1))
    load_step(good_step)
    assert capfd.readouterr().out == ""
