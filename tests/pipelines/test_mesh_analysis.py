"""Tests of mesh analysis: numbers against known truth, recommendations, and real meshes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import trimesh

from pipelines.errors import InputError
from pipelines.mesh_analysis import analyze_bytes, analyze_mesh
from pipelines.mesh_io import export_mesh

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MESHMILL_SHARED_DIR") or REPO / ".." / "shared")
MESHES = SHARED / "meshes"
needs_shared = pytest.mark.skipif(not MESHES.is_dir(), reason=f"shared meshes not present at {MESHES}")


def _mesh(vertices: object, faces: object) -> trimesh.Trimesh:
    return trimesh.Trimesh(np.asarray(vertices, dtype=float), np.asarray(faces), process=False)


def _cube(size: float = 1.0) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(size, size, size))
    return _mesh(box.vertices, box.faces)


def _without_sides(mesh: trimesh.Trimesh, *normals: tuple[int, int, int]) -> trimesh.Trimesh:
    """The mesh minus the faces whose normal is one of ``normals`` (a box side is two faces)."""
    drop = np.zeros(len(mesh.faces), dtype=bool)
    for normal in normals:
        drop |= np.isclose(mesh.face_normals @ np.asarray(normal, dtype=float), 1.0)
    return _mesh(mesh.vertices, mesh.faces[~drop])


def test_unit_cube_truth() -> None:
    report = analyze_mesh(_cube())
    assert report["volume"] == pytest.approx(1.0)
    assert report["volume_cm3"] == pytest.approx(0.001)
    assert report["area"] == pytest.approx(6.0)
    assert (report["vertices"], report["faces"], report["shells"]) == (8, 12, 1)
    assert report["bounding_box"] == {"min": [-0.5] * 3, "max": [0.5] * 3, "size": [1.0] * 3}
    assert report["is_watertight"] and report["is_winding_consistent"] and report["is_manifold"]
    assert (report["boundary_edges"], report["holes_count"], report["non_manifold_edges"]) == (0, 0, 0)
    assert (report["degenerate_faces"], report["duplicate_faces"], report["euler_number"]) == (0, 0, 2)
    assert report["recommendations"] == []


def _join(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    joined = trimesh.util.concatenate(meshes)
    return _mesh(joined.vertices, joined.faces)


def _moved(mesh: trimesh.Trimesh, offset: tuple[float, float, float]) -> trimesh.Trimesh:
    return _mesh(mesh.vertices + np.asarray(offset, dtype=float), mesh.faces)


def test_overlapping_shells_are_reported_with_the_volume_counted_once() -> None:
    """Two unit cubes overlapping by half: the signed volume counts the shared half twice."""
    report = analyze_mesh(_join(_cube(), _moved(_cube(), (0.5, 0, 0))), units="cm")
    assert report["volume"] == pytest.approx(2.0)
    assert report["overlapping_shells"] == 2
    assert report["union_volume"] == pytest.approx(1.5, rel=1e-5)
    assert report["union_volume_cm3"] == pytest.approx(1.5, rel=1e-5)
    first = report["recommendations"][0]
    assert first["severity"] == "high" and "overlap" in first["message"]
    assert "remove_self_intersections" in first["action"]


@pytest.mark.parametrize(("second", "overlapping", "union"), [
    (_moved(_cube(), (3, 0, 0)), 0, 2.0),             # apart
    (_moved(_cube(), (1, 0, 0)), 0, 2.0),             # touching on a face: no shared volume
    (_cube(0.5), 2, 1.0),                             # a second solid inside the first
    (_mesh(_cube(0.5).vertices, _cube(0.5).faces[:, ::-1]), 0, 0.875),  # an inward cavity
])
def test_shells_that_share_no_volume_are_not_overlapping(second, overlapping: int, union: float) -> None:
    report = analyze_mesh(_join(_cube(), second))
    assert report["shells"] == 2
    assert report["overlapping_shells"] == overlapping
    assert report["union_volume"] == pytest.approx(union, rel=1e-5)


def test_overlap_is_found_when_the_whole_mesh_is_wound_inward() -> None:
    joined = _join(_cube(), _moved(_cube(), (0.5, 0, 0)))
    report = analyze_mesh(_mesh(joined.vertices, joined.faces[:, ::-1]))
    assert report["volume"] == pytest.approx(-2.0)
    assert report["overlapping_shells"] == 2
    assert report["union_volume"] == pytest.approx(-1.5, rel=1e-5)


def test_overlap_is_not_judged_on_an_open_surface() -> None:
    report = analyze_mesh(_join(_without_sides(_cube(), (0, 0, 1)), _moved(_cube(), (0.5, 0, 0))))
    assert report["overlapping_shells"] is None and report["union_volume_cm3"] is None


def test_overlap_of_many_shells_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the shell cap the figures say "not checked" (None), not "no overlap"."""
    from pipelines import mesh_analysis

    monkeypatch.setattr(mesh_analysis, "TOL", mesh_analysis.Tolerances(max_overlap_shells=1))
    report = analyze_mesh(_join(_cube(), _moved(_cube(), (0.5, 0, 0))))
    assert report["shells"] == 2 and report["overlapping_shells"] is None


def test_report_is_plain_json() -> None:
    report = analyze_mesh(_cube())
    assert json.loads(json.dumps(report)) == report
    for key in ("vertices", "faces", "shells", "boundary_edges", "holes_count", "euler_number"):
        assert type(report[key]) is int
    for key in ("is_watertight", "is_winding_consistent", "is_manifold"):
        assert type(report[key]) is bool


@pytest.mark.parametrize(("units", "cm3"), [("mm", 1e-3), ("cm", 1.0), ("m", 1e6), ("in", 16.387064),
                                            ("ft", 28316.846592)])
def test_units(units: str, cm3: float) -> None:
    assert analyze_mesh(_cube(), units=units)["volume_cm3"] == pytest.approx(cm3)


def test_invalid_units() -> None:
    with pytest.raises(InputError) as info:
        analyze_mesh(_cube(), units="furlong")
    assert info.value.code == "INVALID_UNITS"
    with pytest.raises(InputError):
        analyze_bytes(export_mesh(_cube(), "stl"), units="parsec")


def test_one_side_removed() -> None:
    report = analyze_mesh(_without_sides(_cube(), (0, 0, 1)))
    assert not report["is_watertight"] and report["is_manifold"] and report["is_winding_consistent"]
    assert (report["boundary_edges"], report["holes_count"], report["faces"]) == (4, 1, 10)
    assert report["euler_number"] == 1
    assert report["recommendations"][0]["severity"] == "high"
    assert "1 holes" in report["recommendations"][0]["message"]


def test_two_adjacent_sides_removed_make_one_hole() -> None:
    report = analyze_mesh(_without_sides(_cube(), (0, 0, 1), (1, 0, 0)))
    assert (report["boundary_edges"], report["holes_count"]) == (6, 1)


def test_two_opposite_sides_removed_make_two_holes() -> None:
    report = analyze_mesh(_without_sides(_cube(), (0, 0, 1), (0, 0, -1)))
    assert (report["boundary_edges"], report["holes_count"], report["shells"]) == (8, 2, 1)


def test_two_holes_far_apart_on_a_sphere() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3)
    top, bottom = np.argmax(sphere.triangles_center[:, 2]), np.argmin(sphere.triangles_center[:, 2])
    keep = np.ones(len(sphere.faces), dtype=bool)
    keep[[top, bottom]] = False
    report = analyze_mesh(_mesh(sphere.vertices, sphere.faces[keep]))
    assert (report["holes_count"], report["boundary_edges"]) == (2, 6)


def test_holes_touching_at_one_vertex_are_two_loops() -> None:
    # a 2x2 grid of squares with the two diagonal squares removed: both holes share the centre
    grid = np.array([[x, y, 0] for y in range(3) for x in range(3)], dtype=float)
    squares = [(0, 1, 4, 3), (1, 2, 5, 4), (3, 4, 7, 6), (4, 5, 8, 7)]
    faces = [[a, b, c] for a, b, c, d in squares[1:3]] + [[a, c, d] for a, b, c, d in squares[1:3]]
    frame = trimesh.creation.box(extents=(10, 10, 1))  # a separate closed shell does not add loops
    mesh = trimesh.util.concatenate([_mesh(grid, faces), _mesh(frame.vertices + 20, frame.faces)])
    report = analyze_mesh(mesh)
    assert report["holes_count"] == 2
    assert report["boundary_edges"] == 8
    assert report["shells"] == 3  # the two squares only touch at a vertex


def test_two_separate_boxes() -> None:
    mesh = trimesh.util.concatenate([_cube(), _mesh(_cube().vertices + np.array([5.0, 0, 0]), _cube().faces)])
    report = analyze_mesh(mesh)
    assert report["shells"] == 2
    assert report["volume"] == pytest.approx(2.0)
    assert report["is_watertight"]
    assert any("2 separate shells" in r["message"] for r in report["recommendations"])


def test_non_manifold_edge() -> None:
    vertices = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]]
    report = analyze_mesh(_mesh(vertices, [[0, 1, 2], [1, 0, 3], [0, 1, 4]]))
    assert report["non_manifold_edges"] == 1
    assert not report["is_manifold"] and not report["is_watertight"]
    assert any("non-manifold" in r["message"] for r in report["recommendations"])


def test_flipped_face() -> None:
    cube = _cube()
    faces = cube.faces.copy()
    faces[0] = faces[0][::-1]
    report = analyze_mesh(_mesh(cube.vertices, faces))
    assert report["is_watertight"] and not report["is_winding_consistent"]
    assert any("winding" in r["message"] for r in report["recommendations"])


def test_inverted_cube_has_negative_volume() -> None:
    cube = _cube()
    report = analyze_mesh(_mesh(cube.vertices, cube.faces[:, ::-1]))
    assert report["volume"] == pytest.approx(-1.0)
    assert report["is_winding_consistent"]
    assert any("inward" in r["message"] for r in report["recommendations"])


def test_degenerate_and_duplicate_faces() -> None:
    cube = _cube()
    faces = np.vstack([cube.faces, cube.faces[:2], [[0, 0, 1]]])
    vertices = np.vstack([cube.vertices, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]])
    faces = np.vstack([faces, [[8, 9, 0]]])  # two coincident vertices: zero area, distinct indices
    report = analyze_mesh(_mesh(vertices, faces))
    assert report["degenerate_faces"] == 2
    assert report["duplicate_faces"] == 2


def test_units_hints() -> None:
    tiny = analyze_mesh(_cube(0.02))  # a 20 mm part exported in metres, read as mm
    huge = analyze_mesh(_cube(5000.0))
    assert any("very small" in r["message"] for r in tiny["recommendations"])
    assert any("very large" in r["message"] for r in huge["recommendations"])
    assert not analyze_mesh(_cube(0.02), units="m")["recommendations"]


def test_analyze_bytes_reports_format_and_progress() -> None:
    seen: list[tuple[int, str]] = []
    report = analyze_bytes(export_mesh(_cube(20), "stl"), progress=lambda p, m: seen.append((p, m)))
    assert report["format"] == "stl"
    assert report["volume_cm3"] == pytest.approx(8.0)
    pcts = [p for p, _ in seen]
    assert pcts == sorted(pcts) and pcts[-1] == 100


def test_analyze_bytes_bad_input() -> None:
    with pytest.raises(InputError) as info:
        analyze_bytes(b"")
    assert info.value.code == "MESH_EMPTY"


def test_sample_cube_fixture() -> None:
    report = analyze_bytes((REPO / "tests" / "data" / "sample_cube.stl").read_bytes())
    assert report["volume_cm3"] == pytest.approx(8.0)
    assert report["is_watertight"] and report["format"] == "stl"


@needs_shared
@pytest.mark.parametrize("name", [
    "trimesh_models/20mm-xyz-cube.stl", "trimesh_models/featuretype.3MF", "trimesh_models/fuze.obj",
    "trimesh_models/Duck.glb", "trimesh_models/ballA.off", "trimesh_models/bunny.ply",
    "trimesh_models/two_objects.obj", "trimesh_models/multibody.stl", "manifold_testmodels/Offset1.obj",
    "manifold_testmodels/openscad-nonmanifold-crash.obj",
])
def test_real_meshes(name: str) -> None:
    report = analyze_bytes((MESHES / name).read_bytes())
    assert report["faces"] > 0
    assert json.loads(json.dumps(report)) == report


@needs_shared
def test_real_meshprep_categories() -> None:
    for path in sorted((MESHES / "thingi10k_meshprep").glob("*/*.stl"))[::4]:
        report = analyze_bytes(path.read_bytes())
        assert report["faces"] > 0, path
    holes = sorted((MESHES / "thingi10k_meshprep" / "holes").glob("*.stl"))
    assert holes and not analyze_bytes(holes[0].read_bytes())["is_watertight"]
