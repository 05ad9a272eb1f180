"""The CAD entry point: report shape, tiers, and real STEP files from the shared corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from onnx_models.generate_parts import generate_part
from pipelines.cad_analysis import analyze_cad
from pipelines.errors import InputError


def _shared_step() -> Path | None:
    root = os.environ.get("MESHMILL_SHARED_DIR")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "shared"
    step = base / "step"
    return step if step.is_dir() else None


STEP_DIR = _shared_step()
needs_shared = pytest.mark.skipif(STEP_DIR is None, reason="shared STEP corpus not present")


@pytest.fixture(scope="module")
def part():
    return generate_part(21, kind="pocket_blind")


def test_report_shape(part):
    calls = []
    result = analyze_cad(part.step, "step", progress=lambda p, m: calls.append(p))
    report = json.loads(json.dumps(result.report))
    assert {"validation", "healing_applied", "tier", "faces", "features", "summary", "timings"} <= set(report)
    v = report["validation"]
    assert 0 <= v["quality_score"] <= 1 and v["solids"] == 1 and v["mesh_only"] is False
    assert report["tier"] == {"used": 2, "name": "rules", "confidence": report["tier"]["confidence"],
                              "fallback_reason": "model not installed"}
    assert [f["index"] for f in report["faces"]] == list(range(len(part.labels)))
    assert set(np.unique(result.face_map)) == set(range(len(part.labels)))
    assert result.glb[:4] == b"glTF"
    assert calls == sorted(calls) and calls[-1] == 100
    assert set(report["timings"]) == {"load", "heal", "mesh", "recognise"}


def test_ml_hook_used_and_fallback_on_failure(part):
    n = len(part.labels)
    report = analyze_cad(part.step, "step", ml_classifier=lambda g: (["stock"] * n, [0.99] * n)).report
    assert report["tier"]["used"] == 1 and report["faces"][0]["label"] == "stock"

    def broken(graph):
        raise RuntimeError("weights missing")

    report = analyze_cad(part.step, "step", ml_classifier=broken).report
    assert report["tier"]["used"] == 2 and "weights missing" in report["tier"]["fallback_reason"]


def test_forced_tiers(part):
    assert analyze_cad(part.step, "step", tier=3).report["tier"]["used"] == 3
    report = analyze_cad(part.step, "step", tier="view_only").report
    assert report["tier"]["used"] == 4 and report["features"] == []
    with pytest.raises(InputError):
        analyze_cad(part.step, "step", tier="bogus")


def test_bad_format():
    with pytest.raises(InputError) as info:
        analyze_cad(b"abc", "dwg")
    assert info.value.code == "CAD_UNSUPPORTED_FORMAT"


@needs_shared
@pytest.mark.parametrize(("name", "check"), [
    ("pythonocc-core__as1-oc-214.stp", lambda v: v["is_assembly"] and v["solids"] == 18),
    ("occt-testdata__ec_turbine-a.stp", lambda v: v["open_shells"] == 1 and v["solids"] == 0),
    ("occt-testdata__bug28366_fuselage.stp", lambda v: v["free_faces"] == 8),
    ("occt-testdata__bug33638.stp", lambda v: v["mesh_only"]),
    ("occt-testdata__bug32314_corrupted.stp", lambda v: not v["valid"] and v["quality_score"] < 0.8),
    ("occt-import-js__cube_in_inch.step", lambda v: v["units"]["file"] == "inch"),
])
def test_real_files(name, check):
    report = analyze_cad((STEP_DIR / name).read_bytes(), "step").report
    json.dumps(report)
    assert check(report["validation"])


@needs_shared
def test_mesh_only_ap242_is_tier_3():
    report = analyze_cad((STEP_DIR / "occt-testdata__bug33638.stp").read_bytes(), "step").report
    assert report["tier"]["used"] == 3 and "tessellated" in report["tier"]["fallback_reason"]


@needs_shared
@pytest.mark.parametrize(("name", "code"), [
    ("occt-testdata__bug27333_simple.stp", "CAD_NO_GEOMETRY"),
    ("stepcode__ap209_ats1-out.stp", "CAD_NO_GEOMETRY"),
    ("stepcode__select_segfault_2.stp", "CAD_UNSUPPORTED_SCHEMA"),
])
def test_real_files_with_clear_errors(name, code):
    with pytest.raises(InputError) as info:
        analyze_cad((STEP_DIR / name).read_bytes(), "step")
    assert info.value.code == code
