"""Tests of the per-shell mesh repair: options, bad inputs and the unchanged-clean guarantee."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from pipelines.errors import InputError, TooComplexError
from pipelines.limits import Limits
from pipelines.mesh_coverage import kept_faces, surface_coverage
from pipelines.mesh_repair import repair_mesh
from pipelines.mesh_shells import is_clean


def _box(offset: tuple[float, float, float] = (0, 0, 0), size: float = 10.0) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(size, size, size))
    box.apply_translation(offset)
    return trimesh.Trimesh(box.vertices, box.faces, process=False)


def _sphere(offset: tuple[float, float, float] = (0, 0, 0), radius: float = 5.0) -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    sphere.apply_translation(offset)
    return trimesh.Trimesh(sphere.vertices, sphere.faces, process=False)


def _without(mesh: trimesh.Trimesh, drop: list[int]) -> trimesh.Trimesh:
    keep = np.ones(len(mesh.faces), dtype=bool)
    keep[drop] = False
    return trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False)


def _join(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    joined = trimesh.util.concatenate(meshes)
    return trimesh.Trimesh(joined.vertices, joined.faces, process=False)


def _plane(n: int = 6) -> trimesh.Trimesh:
    grid = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"), -1).reshape(-1, 2)
    vertices = np.column_stack([grid, np.zeros(len(grid))]).astype(float)
    index = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    faces = np.vstack([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return trimesh.Trimesh(vertices, faces, process=False)


def _panel() -> trimesh.Trimesh:
    """A gently curved sheet: one opening about its own size, a deliberate open surface."""
    plane = _plane()
    x = plane.vertices[:, 0]
    vertices = np.column_stack([plane.vertices[:, :2], 0.5 * ((x - 3.0) / 3.0) ** 2])
    return trimesh.Trimesh(vertices, plane.faces, process=False)


def test_clean_input_comes_back_identical() -> None:
    mesh = _join(_box(), _sphere((30, 0, 0)))
    result = repair_mesh(mesh)
    assert result.report["unchanged"] is True
    assert result.report["operations"] == []
    assert np.array_equal(result.mesh.vertices, mesh.vertices)
    assert np.array_equal(result.mesh.faces, mesh.faces)
    assert result.mesh.vertices is not mesh.vertices
    assert result.report["quality_score"] == 100.0


def test_multi_shell_keeps_clean_shell_and_closes_broken_one() -> None:
    clean = _sphere((30, 0, 0))
    mesh = _join(_without(_box(), [0]), clean)
    result = repair_mesh(mesh)
    report = result.report
    assert report["original_stats"]["is_watertight"] is False
    assert report["repaired_stats"]["is_watertight"] is True
    assert report["repaired_stats"]["shells"] == 2
    assert report["holes_filled"] == 1
    assert kept_faces(clean, result.mesh).all()
    assert report["coverage"] == pytest.approx(1.0)
    assert report["repaired_stats"]["volume_cm3"] == pytest.approx((1000 + clean.volume) / 1000, rel=1e-6)
    json.dumps(report)


def test_keep_all_shells_false_keeps_only_largest() -> None:
    mesh = _join(_box(size=10), _box((40, 0, 0), size=2))
    result = repair_mesh(mesh, keep_all_shells=False)
    assert result.report["repaired_stats"]["shells"] == 1
    assert result.mesh.volume == pytest.approx(1000.0)
    assert any(op.startswith("keep_largest_shell") for op in result.report["operations"])


def test_fill_holes_false_leaves_holes_open() -> None:
    mesh = _without(_sphere(), [0])
    result = repair_mesh(mesh, fill_holes=False)
    assert result.report["repaired_stats"]["is_watertight"] is False
    assert result.report["repaired_stats"]["holes_count"] == 1
    assert result.report["holes_filled"] == 0


def test_max_hole_size_limits_which_holes_are_filled() -> None:
    sphere = _sphere()
    cap = np.nonzero(sphere.triangles_center[:, 2] > 4.0)[0]  # one long loop at the top
    bottom = int(np.argmin(sphere.triangles_center[:, 2]))  # one three-edge loop at the bottom
    mesh = _without(sphere, [*list(cap), bottom])
    loops_before = repair_mesh(mesh, fill_holes=False).report["repaired_stats"]["holes_count"]
    result = repair_mesh(mesh, max_hole_size=3)
    assert loops_before == 2
    assert result.report["holes_filled"] == 1
    assert result.report["repaired_stats"]["holes_count"] == 1
    assert repair_mesh(mesh).report["repaired_stats"]["is_watertight"] is True


def test_open_surface_is_reported_not_destroyed() -> None:
    plane = _plane()
    result = repair_mesh(plane)
    report = result.report
    assert len(report["open_surfaces"]) == 1
    assert report["open_surfaces"][0]["boundary_loops"] == 1
    assert report["repaired_stats"]["is_watertight"] is False
    assert len(result.mesh.faces) == len(plane.faces)
    assert kept_faces(plane, result.mesh).all()


def test_aggressive_closes_open_surfaces_that_have_volume() -> None:
    tube = _panel()
    gentle = repair_mesh(tube)
    assert gentle.report["open_surfaces"] and gentle.report["repaired_stats"]["is_watertight"] is False
    strong = repair_mesh(tube, aggressive=True)
    assert strong.report["open_surfaces"] == []
    assert strong.report["repaired_stats"]["is_watertight"] is True
    assert strong.mesh.volume > 0


def test_zero_volume_double_sided_sheet_is_left_alone() -> None:
    vertices = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], dtype=float)
    sheet = trimesh.Trimesh(vertices, np.array([[0, 1, 2], [0, 2, 1]]), process=False)
    result = repair_mesh(sheet)
    assert result.report["unchanged"] is True
    assert result.report["repaired_stats"]["volume_cm3"] == pytest.approx(0.0, abs=1e-12)


def test_all_degenerate_input_is_an_input_error() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], dtype=float)
    mesh = trimesh.Trimesh(vertices, np.array([[0, 1, 2], [1, 2, 3]]), process=False)
    with pytest.raises(InputError) as error:
        repair_mesh(mesh)
    assert error.value.code == "MESH_DEGENERATE"


def test_overlapping_shells_united_only_when_asked() -> None:
    mesh = _join(_box(), _box((5, 0, 0)))
    kept = repair_mesh(mesh)
    assert kept.report["unchanged"] is True and kept.report["repaired_stats"]["shells"] == 2
    # the report says the kept shells overlap and what they enclose once
    assert kept.report["repaired_stats"]["overlapping_shells"] == 2
    assert kept.report["repaired_stats"]["union_volume_cm3"] == pytest.approx(1.5, rel=1e-4)
    united = repair_mesh(mesh, remove_self_intersections=True)
    assert united.report["repaired_stats"]["shells"] == 1
    assert united.report["repaired_stats"]["overlapping_shells"] == 0
    assert united.report["repaired_stats"]["is_watertight"] is True
    assert united.mesh.volume == pytest.approx(1500.0, rel=1e-4)


def test_clean_fast_path_says_not_checked_as_analysis_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the overlap check's shell cap both figures are None (not checked), not a volume."""
    from pipelines import mesh_analysis

    monkeypatch.setattr(mesh_analysis, "TOL", mesh_analysis.Tolerances(max_overlap_shells=1))
    kept = repair_mesh(_join(_box(), _box((5, 0, 0))))
    assert kept.report["unchanged"] is True
    stats = kept.report["repaired_stats"]
    assert stats["overlapping_shells"] is None and stats["union_volume_cm3"] is None


def test_self_intersecting_broken_shell_is_closed() -> None:
    mesh = _join(_without(_box(), [3]), _box((5, 0, 0)))
    result = repair_mesh(mesh)
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.report["coverage"] >= 0.99


def test_non_manifold_fin_is_repaired() -> None:
    sphere = _sphere(radius=10.0)
    a, b = sphere.faces[0][:2]
    tip = len(sphere.vertices)
    fin_vertex = (sphere.vertices[a] + sphere.vertices[b]) / 2 * 1.05
    mesh = trimesh.Trimesh(np.vstack([sphere.vertices, fin_vertex]),
                           np.vstack([sphere.faces, [[a, b, tip]]]), process=False)
    result = repair_mesh(mesh)
    assert result.report["original_stats"]["is_manifold"] is False
    assert result.report["repaired_stats"]["is_manifold"] is True
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.report["coverage"] >= 0.99


def test_too_many_faces_is_too_complex() -> None:
    with pytest.raises(TooComplexError) as error:
        repair_mesh(_sphere(), limits=Limits(max_triangles=100))
    assert error.value.code == "MESH_TOO_COMPLEX"


def test_time_budget_ends_in_too_complex() -> None:
    with pytest.raises(TooComplexError) as error:
        repair_mesh(_without(_sphere(), [0]), time_budget_s=1e-9)
    assert error.value.code == "MESH_TOO_COMPLEX"


def test_progress_reports_shells_in_order() -> None:
    seen: list[tuple[int, str]] = []
    repair_mesh(_join(_without(_box(), [0]), _without(_sphere((30, 0, 0)), [0])),
                progress=lambda pct, msg: seen.append((pct, msg)))
    percents = [pct for pct, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100
    messages = " | ".join(msg for _, msg in seen)
    assert "repairing shell 2 of 2" in messages and "merging" in messages


def test_coverage_sees_lost_surface() -> None:
    box = _box()
    half = _without(box, list(range(6)))
    assert surface_coverage(box, box) == 1.0
    assert surface_coverage(box, half) == pytest.approx(0.5, abs=0.03)
    assert is_clean(box) and not is_clean(half)


def _welded(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    """Meshes joined with coincident vertices merged (shared walls become shared edges)."""
    joined = _join(*meshes)
    joined.merge_vertices()
    return trimesh.Trimesh(joined.vertices, joined.faces, process=False)


def test_clean_fast_path_reports_what_analysis_reports() -> None:
    from pipelines.mesh_analysis import analyze_mesh

    inverted = _sphere((30, 0, 0))
    inverted.invert()
    for mesh in (_box(), _join(_box(), inverted), _join(_box(), _box((5, 0, 0)))):
        for units in ("mm", "in"):
            result = repair_mesh(mesh, units=units)
            stats = analyze_mesh(mesh, units=units)
            assert result.report["unchanged"] is True
            assert result.report["original_stats"] == {key: stats[key] for key in result.report["original_stats"]}


def test_unknown_units_are_an_input_error_on_clean_and_broken_input() -> None:
    for mesh in (_box(), _without(_box(), [0])):
        with pytest.raises(InputError) as error:
            repair_mesh(mesh, units="furlong")
        assert error.value.code == "INVALID_UNITS"


def test_solids_sharing_a_wall_come_apart_into_closed_shells() -> None:
    # both boxes keep their copy of the shared square: four faces on each of its edges
    mesh = _welded(_box(size=10), _box((10, 0, 0), size=10))
    assert not is_clean(mesh)
    result = repair_mesh(mesh)
    report = result.report
    assert report["repaired_stats"]["is_watertight"] is True
    assert report["repaired_stats"]["is_manifold"] is True
    assert report["coverage"] == pytest.approx(1.0)
    assert result.mesh.volume == pytest.approx(2000.0)


def test_opposite_duplicate_faces_are_kept_as_a_wall() -> None:
    from pipelines.mesh_shells import _non_duplicate_mask

    faces = np.array([[0, 1, 2], [1, 2, 0], [0, 2, 1], [3, 4, 5], [5, 4, 3], [6, 7, 8], [7, 8, 6], [8, 6, 7]])
    keep = _non_duplicate_mask(faces)
    assert keep.tolist() == [True, True, True, True, True, True, False, False]
    box = _box()
    doubled = trimesh.Trimesh(box.vertices, np.vstack([box.faces, box.faces[:3]]), process=False)
    result = repair_mesh(doubled)
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.mesh.volume == pytest.approx(1000.0)


def test_triangle_soup_is_not_thinned_out_as_debris() -> None:
    rng = np.random.default_rng(7)
    vertices = rng.random((300, 3)) * 10.0
    soup = trimesh.Trimesh(vertices, np.arange(300).reshape(-1, 3), process=False)
    result = repair_mesh(soup)
    assert result.report["coverage"] >= 0.99
    assert result.mesh.area >= 0.99 * soup.area  # at most the coverage budget goes as debris
    assert len(result.report["open_surfaces"]) >= 90


def test_stray_flipped_copies_are_read_again_as_redundant() -> None:
    # flipped copies of half the faces are no wall between two solids: read as walls they would
    # be closed into a bogus inner shell; the second reading drops them and needs no filling
    box = _box()
    mesh = trimesh.Trimesh(box.vertices, np.vstack([box.faces, box.faces[:6, ::-1]]), process=False)
    result = repair_mesh(mesh)
    assert "reread_duplicates_and_walls" in result.report["operations"]
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.report["holes_filled"] == 0
    assert result.mesh.volume == pytest.approx(1000.0)


def test_double_sided_open_box_is_read_as_one_sided() -> None:
    from pipelines.mesh_shells import cheap_fixes

    box = _box()
    faces = np.vstack([box.faces[2:], box.faces[2:, ::-1]])  # an open box, every face both ways
    mesh = trimesh.Trimesh(box.vertices, faces, process=False)
    walls, _ = cheap_fixes(mesh, 1.0)
    single, ops = cheap_fixes(mesh, 1.0, walls=False)
    assert len(walls.faces) == 20 and len(single.faces) == 10
    assert "remove_duplicate(10)" in ops


def test_coplanar_faces_at_a_crowded_edge_follow_the_reading() -> None:
    from pipelines.mesh_shells import _pair_around_edge

    # edge 0-1 along x; a flat top (faces at +y and -y) and a double wall hanging down (-z)
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, -1]], dtype=float)
    faces = np.array([[0, 1, 2], [1, 0, 3], [0, 4, 1], [1, 4, 0]])
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    group = np.array([0, 3, 8, 11])  # half-edges (3 * face + corner) along 0-1 or 1-0
    walls = {frozenset(pair) for pair in _pair_around_edge(vertices, normals, faces, group, True)}
    fins = {frozenset(pair) for pair in _pair_around_edge(vertices, normals, faces, group, False)}
    assert frozenset((8, 11)) not in walls  # the wall's two faces end up in different solids
    assert frozenset((8, 11)) in fins  # ... or close a zero-thickness fin together
    assert len(walls) == len(fins) == 2


def test_open_copy_covered_by_a_closed_shell_is_dropped() -> None:
    box = _box()
    top = box.vertices[:, 2] > 0
    quad = trimesh.Trimesh(box.vertices[top], _quad_faces(box.vertices[top]), process=False)
    mesh = _join(box, quad)  # a loose copy of the top face, on top of it
    result = repair_mesh(mesh)
    assert "drop_covered(1)" in result.report["operations"]
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.report["open_surfaces"] == []
    assert result.report["coverage"] >= 0.99
    away = trimesh.Trimesh(quad.vertices + np.array([0, 0, 20.0]), _quad_faces(quad.vertices), process=False)
    kept = repair_mesh(_join(box, away))
    assert not any(op.startswith("drop_covered") for op in kept.report["operations"])
    assert len(kept.report["open_surfaces"]) == 1


def _quad_faces(corners: np.ndarray) -> np.ndarray:
    """Two triangles over four coplanar corners, in the order they go round."""
    centre = corners.mean(axis=0)
    angle = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    a, b, c, d = np.argsort(angle)
    return np.array([[a, b, c], [a, c, d]])


def test_fix_winding_makes_flipped_faces_consistent() -> None:
    from pipelines.mesh_shells import fix_winding

    sphere = _sphere()
    rng = np.random.default_rng(3)
    faces = sphere.faces.copy()
    flip = rng.random(len(faces)) < 0.4
    faces[flip] = faces[flip][:, ::-1]
    two = np.vstack([faces, faces + len(sphere.vertices)])
    vertices = np.vstack([sphere.vertices, sphere.vertices + 20.0])
    wound = fix_winding(two, len(vertices))
    assert is_clean(trimesh.Trimesh(vertices, wound, process=False))
    assert (np.sort(wound, axis=1) == np.sort(two, axis=1)).all()  # same faces, only reordered
    box = _box()  # a few faces take the plain-Python walk
    faces = box.faces.copy()
    faces[::3] = faces[::3, ::-1]
    assert is_clean(trimesh.Trimesh(box.vertices, fix_winding(faces, len(box.vertices)), process=False))


def test_coverage_samples_only_near_what_changed() -> None:
    from pipelines.mesh_coverage import _reaching_faces

    sphere = _sphere()
    far = _sphere((100.0, 0, 0))
    both = _join(sphere, far)
    points = sphere.vertices[:5]
    reach = _reaching_faces(both, points, 0.5)
    assert reach[: len(sphere.faces)].any() and not reach[len(sphere.faces):].any()
    # a change of (almost) no area is not sampled at all, and never reported as more than the truth
    sliver = trimesh.Trimesh(np.vstack([sphere.vertices, [[0, 0, 5.0], [0, 0, 5.0 + 1e-12]]]),
                             np.vstack([sphere.faces, [[0, len(sphere.vertices), len(sphere.vertices) + 1]]]),
                             process=False)
    coverage = surface_coverage(sliver, sphere)
    assert 1.0 - 1e-9 <= coverage <= 1.0


def test_double_sided_closed_surface_keeps_its_volume() -> None:
    # every face also wound the other way (a two-sided export): one solid, not a solid and a
    # zero-thickness cavity of the same size
    box = _box()
    mesh = trimesh.Trimesh(box.vertices, np.vstack([box.faces, box.faces[:, ::-1]]), process=False)
    result = repair_mesh(mesh)
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.report["repaired_stats"]["shells"] == 1
    assert result.mesh.volume == pytest.approx(1000.0)
    assert result.report["coverage"] == pytest.approx(1.0)


def test_points_near_measures_distance_to_the_surface_exactly() -> None:
    from pipelines.mesh_coverage import points_near

    box = _box()  # faces at +-5
    points = np.array([[0, 0, 5.05], [0, 0, 5.2], [4.9, 4.9, 4.9], [0, 0, 0], [30, 0, 0]])
    assert points_near(box, points, 0.1).tolist() == [True, False, True, False, False]


def test_opposite_duplicates_are_detected_by_winding() -> None:
    from pipelines.mesh_repair import _has_opposite_duplicates

    assert not _has_opposite_duplicates(np.array([[0, 1, 2], [1, 2, 0], [3, 4, 5]]))  # same winding
    assert _has_opposite_duplicates(np.array([[0, 1, 2], [3, 4, 5], [2, 1, 0]]))
    assert _has_opposite_duplicates(np.array([[0, 1, 2], [1, 0, 2]]) + (1 << 21))  # large indices


def test_overlapping_boxes_sharing_an_edge_come_apart_into_two_closed_shells() -> None:
    from pathlib import Path

    from pipelines.mesh_io import load_mesh

    # an L bracket drawn as two overlapping boxes whose faces meet on one shared edge (4 faces)
    data = (Path(__file__).resolve().parents[1] / "data" / "sample_two_shells.obj").read_bytes()
    mesh = load_mesh(data, "obj")
    assert not is_clean(mesh)
    result = repair_mesh(mesh)
    report = result.report
    assert report["repaired_stats"]["is_watertight"] is True
    assert report["repaired_stats"]["is_manifold"] is True
    assert report["repaired_stats"]["shells"] == 2
    assert report["coverage"] == pytest.approx(1.0)
    assert kept_faces(mesh, result.mesh).all()
    assert result.mesh.volume == pytest.approx(40 * 20 * 3 + 3 * 20 * 30)


def test_solid_inside_another_sharing_an_edge_is_separated() -> None:
    # a tetrahedron inside a cube on one of its edges: that edge carries four faces
    cube = _box(offset=(5, 5, 5))
    inner = np.array([[0, 0, 0], [10, 0, 0], [5, 5, 2], [5, 2, 5]], dtype=float)
    tetra = trimesh.Trimesh(inner, [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], process=False)
    tetra.fix_normals()
    mesh = _welded(cube, tetra)
    assert not is_clean(mesh)
    result = repair_mesh(mesh)
    assert result.report["repaired_stats"]["is_watertight"] is True
    assert result.report["repaired_stats"]["shells"] == 2
    assert result.report["coverage"] == pytest.approx(1.0)
    assert result.mesh.volume == pytest.approx(1000.0 + tetra.volume)
    united = repair_mesh(mesh, remove_self_intersections=True)
    assert united.report["repaired_stats"]["shells"] == 1
    assert united.mesh.volume == pytest.approx(1000.0, rel=1e-4)


def test_manifold_reading_pairs_balanced_crowded_edges_and_refuses_holes() -> None:
    from pipelines.mesh_union import manifold_reading

    # two overlapping boxes welded on a shared edge: four faces there, two each way
    mesh = _welded(trimesh.creation.box(bounds=[[0, 0, 0], [40, 20, 3]]),
                   trimesh.creation.box(bounds=[[0, 0, 0], [3, 20, 30]]))
    assert not is_clean(mesh)
    read = manifold_reading(mesh)
    assert read is not None and is_clean(read)
    assert read.volume == pytest.approx(40 * 20 * 3 + 3 * 20 * 30, rel=1e-5)
    assert surface_coverage(mesh, read) == pytest.approx(1.0)
    assert manifold_reading(_without(_box(), [0])) is None
