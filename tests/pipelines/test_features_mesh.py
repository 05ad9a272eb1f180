"""Tier 3 mesh heuristics on STL input."""

from __future__ import annotations

import io

import pytest
import trimesh

from pipelines.cad_analysis import analyze_cad


def _stl(mesh: trimesh.Trimesh) -> bytes:
    buf = io.BytesIO()
    mesh.export(buf, file_type="stl")
    return buf.getvalue()


def test_stl_box_with_hole_goes_to_tier_3():
    pytest.importorskip("pipelines.mesh_io")
    block = trimesh.creation.box((40, 30, 10))
    try:
        part = block.difference(trimesh.creation.cylinder(radius=4, height=20))
    except Exception:  # no boolean engine installed: a plain box still exercises the tier
        part = block
    result = analyze_cad(_stl(part), "stl")
    report = result.report
    assert report["tier"]["used"] == 3 and report["tier"]["name"] == "mesh_heuristics"
    labels = {f["label"] for f in report["faces"]}
    assert "stock" in labels
    assert len(result.face_map) == len(part.faces)
    assert result.glb[:4] == b"glTF"


def test_stl_view_only_when_forced():
    pytest.importorskip("pipelines.mesh_io")
    report = analyze_cad(_stl(trimesh.creation.box((1, 2, 3))), "stl", tier=4).report
    assert report["tier"]["used"] == 4 and report["features"] == []
