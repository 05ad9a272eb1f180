"""Tests of format sniffing by content: each supported signature and what must not match."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
import trimesh

from pipelines.sniff import SNIFF_BYTES, sniff


def _sniff(data: bytes) -> str | None:
    return sniff(data[:SNIFF_BYTES], len(data))


def _box() -> trimesh.Trimesh:
    return trimesh.creation.box()


def test_binary_stl() -> None:
    data = _box().export(file_type="stl")
    assert _sniff(data) == "stl"
    assert _sniff(b"solid header".ljust(80, b" ") + data[80:]) == "stl"


def test_ascii_stl() -> None:
    assert _sniff(_box().export(file_type="stl_ascii").encode()) == "stl"


@pytest.mark.parametrize(("fmt", "expected"), [("obj", "obj"), ("ply", "ply"), ("off", "off"), ("glb", "glb"),
                                               ("3mf", "zip")])
def test_exported_formats(fmt: str, expected: str) -> None:
    data = _box().export(file_type=fmt)
    assert _sniff(data.encode() if isinstance(data, str) else data) == expected


def test_obj_with_comments_and_groups() -> None:
    assert _sniff(b"# Blender\nmtllib a.mtl\no Cube\nv 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl m\nf 1 2 3\n") == "obj"


def test_3mf_zip() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("3D/3dmodel.model", "<model/>")
    assert _sniff(out.getvalue()) == "zip"


def test_step_and_png() -> None:
    assert _sniff(b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('x'),'2;1');\n") == "step"
    assert _sniff(b"\x89PNG\r\n\x1a\n" + b"\0" * 64) == "png"


def test_step_after_leading_comments() -> None:
    head = b"ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('AUTOMOTIVE_DESIGN'));\n"
    assert _sniff(b"/* written by hand:\n OPEN_SHELL */\n" + head) == "step"
    assert _sniff(b"\xef\xbb\xbf /* a */ /* b */\r\n" + head) == "step"
    assert _sniff(b"/* never closed ISO-10303-21;\n") is None
    assert _sniff(b"/* a comment */\nhello world\n") is None


@pytest.mark.parametrize("data", [b"", b"hello world\n", b"\0\1\2\3" * 100, b"OFFICE party\n",
                                  b"solid but nothing else\n"])
def test_junk_is_unknown(data: bytes) -> None:
    assert _sniff(data) is None


def test_truncated_binary_stl_is_still_stl() -> None:
    """So the loader can answer MESH_PARSE_ERROR "truncated", not "unsupported format"."""
    data = b"\0" * 80 + struct.pack("<I", 12) + b"\0" * 100
    assert _sniff(data) == "stl"


def test_short_junk_with_huge_count_is_unknown() -> None:
    data = b"\0" * 80 + struct.pack("<I", 2**31) + b"\0" * 100
    assert _sniff(data) is None


def test_zip_kind_reads_the_central_directory_names() -> None:
    from pipelines.sniff import zip_kind

    assert zip_kind(["[Content_Types].xml", "3D/3dmodel.model"]) == "3mf"
    assert zip_kind(["/3D/3DModel.model"]) == "3mf"  # leading slash and case, as some writers emit
    assert zip_kind(["model.stl", "3D/other.model"]) == "zip"
