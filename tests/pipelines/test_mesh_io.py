"""Tests of mesh loading and export: every format, scenes, and every bad-input error code."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from pipelines.errors import InputError, TooComplexError
from pipelines.limits import Limits
from pipelines.mesh_io import EXPORT_FORMATS, FORMAT_MEDIA_TYPES, LOAD_FORMATS, export_mesh, load_mesh
from tests.archives import zip_bytes

DATA = Path(__file__).resolve().parents[1] / "data"


def _box() -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(20, 20, 20))


def _code(data: bytes, fmt: str | None = None, **kwargs: object) -> str:
    with pytest.raises(InputError) as info:
        load_mesh(data, fmt, **kwargs)
    assert info.value.code == info.value.code.upper()
    return info.value.code


@pytest.mark.parametrize("fmt", LOAD_FORMATS)
@pytest.mark.parametrize("named", [True, False])
def test_every_format_round_trips_a_box(fmt: str, named: bool) -> None:
    mesh = load_mesh(export_mesh(_box(), fmt), fmt if named else None)
    assert mesh.faces.shape == (12, 3)
    assert len(mesh.vertices) == 8  # duplicate positions merged, so edges are shared
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(8000.0)


def test_ascii_stl_loads_and_merges_vertices() -> None:
    data = _box().export(file_type="stl_ascii").encode()
    mesh = load_mesh(data)
    assert (len(mesh.vertices), len(mesh.faces)) == (8, 12)


def test_binary_stl_with_solid_header_is_binary() -> None:
    data = bytearray(export_mesh(_box(), "stl"))
    data[:80] = b"solid trap".ljust(80, b" ")
    assert len(load_mesh(bytes(data)).faces) == 12


def test_sample_cube_fixture_is_a_20mm_cube() -> None:
    mesh = load_mesh((DATA / "sample_cube.stl").read_bytes())
    assert mesh.extents.tolist() == pytest.approx([20, 20, 20])
    assert mesh.is_watertight


def test_scene_is_concatenated_with_transforms() -> None:
    scene = trimesh.Scene()
    scene.add_geometry(_box(), node_name="a")
    scene.add_geometry(_box(), node_name="b", transform=trimesh.transformations.translation_matrix([100, 0, 0]))
    mesh = load_mesh(scene.export(file_type="glb"), "glb")
    assert len(mesh.faces) == 24
    assert mesh.bounds[1][0] == pytest.approx(110.0)


def test_degenerate_and_duplicate_faces_survive_loading() -> None:
    box = _box()
    faces = np.vstack([box.faces, box.faces[:1], [[0, 0, 1]]])
    data = export_mesh(trimesh.Trimesh(box.vertices, faces, process=False), "ply")
    assert len(load_mesh(data, "ply").faces) == 14


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_has_a_media_type(fmt: str) -> None:
    assert export_mesh(_box(), fmt)
    assert FORMAT_MEDIA_TYPES[fmt]


def test_export_unknown_format_is_refused() -> None:
    with pytest.raises(InputError) as info:
        export_mesh(_box(), "dxf")
    assert info.value.code == "MESH_UNSUPPORTED_FORMAT"


def test_empty_bytes() -> None:
    assert _code(b"") == "MESH_EMPTY"
    assert _code(b"", "stl") == "MESH_EMPTY"


def test_stl_with_no_triangles_is_empty() -> None:
    assert _code(b"\0" * 80 + struct.pack("<I", 0)) == "MESH_EMPTY"


def test_truncated_binary_stl() -> None:
    data = export_mesh(_box(), "stl")[:-30]
    for fmt in ("stl", None):
        with pytest.raises(InputError) as info:
            load_mesh(data, fmt)
        assert info.value.code == "MESH_PARSE_ERROR"
        assert info.value.details["format"] == "stl"
        assert "truncated" in info.value.details["reason"]


def test_garbage_text() -> None:
    assert _code(b"hello, this is not a mesh\n" * 10) == "MESH_UNSUPPORTED_FORMAT"
    assert _code(b"hello, this is not a mesh\n" * 10, "obj") in ("MESH_PARSE_ERROR", "MESH_EMPTY")
    assert _code(b"OFF\n3 1 0\nx y z\n", "off") == "MESH_PARSE_ERROR"


def test_binary_junk() -> None:
    junk = np.random.default_rng(1).bytes(5000)
    assert _code(junk) in ("MESH_PARSE_ERROR", "MESH_UNSUPPORTED_FORMAT")
    for fmt in LOAD_FORMATS:
        assert _code(junk, fmt) in ("MESH_PARSE_ERROR", "MESH_EMPTY", "MESH_TOO_COMPLEX")


def test_unsupported_formats() -> None:
    assert _code(b"\x89PNG\r\n\x1a\n" + b"\0" * 100) == "MESH_UNSUPPORTED_FORMAT"
    assert _code(b"ISO-10303-21;\nHEADER;\n") == "MESH_UNSUPPORTED_FORMAT"
    assert _code(b"data", "dxf") == "MESH_UNSUPPORTED_FORMAT"


def test_obj_face_with_missing_vertex() -> None:
    data = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 9\n"
    assert _code(data, "obj") in ("MESH_PARSE_ERROR", "MESH_EMPTY")


def test_off_face_with_missing_vertex() -> None:
    assert _code(b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "off") == "MESH_PARSE_ERROR"


def test_nan_coordinates_are_a_parse_error() -> None:
    data = b"v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n"
    with pytest.raises(InputError) as info:
        load_mesh(data, "obj")
    assert info.value.code == "MESH_PARSE_ERROR"
    assert "NaN" in info.value.details["reason"]


def test_unused_nan_vertex_is_dropped() -> None:
    mesh = load_mesh(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv nan nan nan\nf 1 2 3\n", "obj")
    assert np.isfinite(mesh.vertices).all()
    assert len(mesh.faces) == 1


def test_obj_relative_indices_are_read() -> None:
    box = _box()
    lines = [f"v {x} {y} {z}" for x, y, z in box.vertices]
    count = len(box.vertices)
    lines += [f"vt 0 0\nvn 0 0 1\nf {a - count}/-1/-1 {b - count}/-1/-1 {c - count}/-1/-1" for a, b, c in box.faces]
    mesh = load_mesh("\n".join(lines).encode(), "obj")
    assert len(mesh.faces) == 12
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(8000.0)


def test_float32_max_coordinates_are_not_merged_into_one_vertex() -> None:
    big = np.finfo(np.float32).max
    box = trimesh.creation.box(extents=(2, 2, 2))
    vertices = box.vertices * np.array([big, big, 1.0])
    data = "\n".join([f"v {x:.17g} {y:.17g} {z:.17g}" for x, y, z in vertices]
                     + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces]).encode()
    mesh = load_mesh(data, "obj")
    assert len(mesh.vertices) == 8
    assert mesh.is_watertight and mesh.is_winding_consistent


def test_triangle_limit_from_binary_stl_header_before_parsing() -> None:
    header = b"\0" * 80 + struct.pack("<I", 10_000_000)
    data = header + b"\0" * 50 * 10  # lies about its size: the header alone decides
    with pytest.raises(TooComplexError) as info:
        load_mesh(data, "stl")
    assert info.value.code == "MESH_TOO_COMPLEX"


@pytest.mark.parametrize("fmt", LOAD_FORMATS)
def test_triangle_limit(fmt: str) -> None:
    data = export_mesh(trimesh.creation.icosphere(subdivisions=2), fmt)
    with pytest.raises(TooComplexError) as info:
        load_mesh(data, fmt, limits=Limits(max_triangles=100))
    assert info.value.code == "MESH_TOO_COMPLEX"
    assert info.value.details["max_triangles"] == 100




def test_3mf_zip_bomb_is_refused_before_extracting() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("3D/3dmodel.model", "w", force_zip64=True) as model:
            block = b" " * (1 << 20)
            for _ in range(200):  # 200 MB of spaces, about 200 KB compressed
                model.write(block)
    data = out.getvalue()
    assert len(data) < 1 << 20
    for fmt in ("3mf", None):
        with pytest.raises(InputError) as info:
            load_mesh(data, fmt)
        assert info.value.code == "ARCHIVE_TOO_LARGE"


def test_3mf_over_byte_cap_is_refused() -> None:
    data = export_mesh(_box(), "3mf")
    assert _code(data, "3mf", limits=Limits(max_archive_bytes=100)) == "ARCHIVE_TOO_LARGE"


def test_3mf_with_lying_header_is_capped_while_reading() -> None:
    data = bytearray(zip_bytes({"3D/3dmodel.model": b"<model>" + b" " * 5000 + b"</model>"}))
    # shrink the declared size in the central directory: the read must still stop
    at = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, at + 24, 10)
    code = _code(bytes(data), "3mf", limits=Limits(max_archive_bytes=1000))
    assert code in ("ARCHIVE_TOO_LARGE", "MESH_PARSE_ERROR")


def test_zip_without_model_is_not_3mf() -> None:
    data = zip_bytes({"readme.txt": b"hello"})
    assert _code(data) == "MESH_UNSUPPORTED_FORMAT"
    assert _code(data, "3mf") == "MESH_PARSE_ERROR"


def test_3mf_with_broken_model_xml() -> None:
    assert _code(zip_bytes({"3D/3dmodel.model": b"<model><resources><object"}), "3mf") == "MESH_PARSE_ERROR"


def test_corrupt_zip() -> None:
    assert _code(b"PK\x03\x04" + b"\0" * 200) == "MESH_PARSE_ERROR"


def test_truncated_glb_and_ply() -> None:
    assert _code(export_mesh(_box(), "glb")[:-100], "glb") in ("MESH_PARSE_ERROR", "MESH_EMPTY")
    assert _code(export_mesh(_box(), "ply")[:-40], "ply") in ("MESH_PARSE_ERROR", "MESH_EMPTY")


def _binary_stl(triangles: np.ndarray) -> bytes:
    """A binary STL of ``(n, 3, 3)`` float corners (a soup: every corner its own vertex)."""
    records = b"".join(struct.pack("<12fH", 0, 0, 0, *tri.ravel(), 0) for tri in triangles.astype(np.float32))
    return b"\0" * 80 + struct.pack("<I", len(triangles)) + records


def test_load_merges_like_trimesh_merge_vertices_on_a_noisy_soup():
    rng = np.random.default_rng(7)
    grid = rng.integers(0, 6, size=(300, 3, 3)).astype(np.float64)
    jitter = rng.normal(scale=1e-10, size=grid.shape)  # below trimesh.tol.merge: same vertex
    soup = grid + jitter
    mesh = load_mesh(_binary_stl(soup), "stl")
    reference = trimesh.Trimesh(soup.reshape(-1, 3).astype(np.float32).astype(np.float64),
                                np.arange(len(soup) * 3).reshape(-1, 3), process=False)
    reference.merge_vertices(merge_tex=True, merge_norm=True)
    assert len(mesh.vertices) < len(soup) * 3  # corners were shared
    np.testing.assert_array_equal(mesh.vertices, reference.vertices)
    np.testing.assert_array_equal(mesh.faces, reference.faces)


def test_huge_coordinates_merge_exactly_instead_of_overflowing_into_one_vertex():
    tri = np.array([[[0, 0, 0], [1e30, 0, 0], [0, 1e30, 0]], [[1e30, 0, 0], [0, 1e30, 0], [1e30, 1e30, 0]]])
    mesh = load_mesh(_binary_stl(tri), "stl")
    assert len(mesh.vertices) == 4  # two shared corners merged, none collapsed
    assert mesh.faces.tolist() == [[0, 1, 2], [1, 2, 3]]
