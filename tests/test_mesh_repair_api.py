"""POST /mesh/repair end to end: real worker, real storage, both stacks."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
import trimesh

from tests.stack import poll
from tests.test_platform import CUBE, TERMINAL, assert_error

FORMATS = {"stl": "model/stl", "obj": "model/obj", "ply": "application/x-ply", "3mf": "model/3mf",
           "glb": "model/gltf-binary"}


def broken_two_shells(seed: float = 0.0) -> bytes:
    """A box with its top (two triangles) missing, beside a clean sphere: 2 shells, 1 hole."""
    box = trimesh.creation.box(extents=[10, 10, 10 + seed])
    box = trimesh.Trimesh(box.vertices, box.faces[box.face_normals[:, 2] < 0.5], process=False)
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=3)
    sphere.apply_translation([20, 0, 0])
    return trimesh.util.concatenate([box, sphere]).export(file_type="stl")


def repair(client, data: bytes | None = None, **form) -> dict:
    files = {"file": ("part.stl", data)} if data is not None else None
    response = client.post("/mesh/repair", files=files, data=form)
    assert response.status_code == 202, response.text
    return poll(client, response.json()["id"], TERMINAL, timeout=120)


def download_mesh(client, job: dict, fmt: str) -> trimesh.Trimesh:
    response = client.get(f"/jobs/{job['id']}/artifacts/repaired.{fmt}")
    assert response.status_code == 200 and response.headers["content-type"] == FORMATS[fmt]
    loaded = trimesh.load(io.BytesIO(response.content), file_type=fmt, force="mesh")
    loaded.merge_vertices()
    return loaded


def test_repair_keeps_every_shell_and_fills_the_hole(stack, user):
    client, _ = user
    job = repair(client, broken_two_shells(), units="mm")
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["original_stats"]["holes_count"] == 1 and result["original_stats"]["shells"] == 2
    assert result["repaired_stats"]["is_watertight"] is True and result["repaired_stats"]["shells"] == 2
    assert result["holes_filled"] == 1 and result["coverage"] >= 0.99
    assert 0 <= result["quality_score"] <= 100
    box_and_sphere_cm3 = (1000 + trimesh.creation.icosphere(subdivisions=2, radius=3).volume) / 1000
    assert result["repaired_stats"]["volume_cm3"] == pytest.approx(box_and_sphere_cm3, rel=1e-6)
    repaired = download_mesh(client, job, "stl")
    assert repaired.is_watertight and len(repaired.split(only_watertight=False)) == 2
    (artifact,) = job["artifacts"]
    if stack.kind == "servers":  # S3 storage also hands out a presigned link to the same bytes
        direct = httpx.get(artifact["download_url"])
        assert direct.status_code == 200
        assert direct.content == client.get(f"/jobs/{job['id']}/artifacts/repaired.stl").content
    else:
        assert "download_url" not in artifact
    events = [e["message"] for e in client.get(f"/jobs/{job['id']}/events").json()["items"]]
    assert "loading mesh" in events and any(m.startswith("writing") for m in events)


@pytest.mark.parametrize("fmt", ["obj", "ply", "3mf", "glb"])
def test_output_formats(stack, user, fmt):
    client, _ = user
    job = repair(client, broken_two_shells(0.5), output_format=fmt)
    assert job["state"] == "succeeded" and job["result"]["artifact"] == f"repaired.{fmt}"
    assert download_mesh(client, job, fmt).is_watertight


def test_clean_input_comes_back_unchanged(stack, user):
    client, _ = user
    job = repair(client, CUBE)
    assert job["result"]["unchanged"] is True and job["result"]["operations"] == []
    original = trimesh.load(io.BytesIO(CUBE), file_type="stl")
    repaired = download_mesh(client, job, "stl")
    assert np.allclose(np.sort(original.vertices, axis=0), np.sort(repaired.vertices, axis=0))


def test_open_surface_is_reported_not_destroyed(stack, user):
    client, _ = user
    plane = trimesh.Trimesh([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0]], [[0, 1, 2], [0, 2, 3]])
    job = repair(client, plane.export(file_type="stl"))
    assert job["state"] == "succeeded"
    assert job["result"]["open_surfaces"] and job["result"]["coverage"] == pytest.approx(1.0)


def test_repair_by_earlier_job_and_history_and_stats(stack, user):
    client, _ = user
    data = broken_two_shells(1.5)
    first = repair(client, data, aggressive="true")
    second = repair(client, input_job_id=first["id"], keep_all_shells="false", output_format="obj")
    assert second["state"] == "succeeded" and second["input"]["sha256"] == first["input"]["sha256"]
    assert second["result"]["repaired_stats"]["shells"] == 1  # only the largest shell kept

    history = client.get(f"/mesh/history/{first['input']['sha256']}").json()
    assert [j["id"] for j in history["items"]] == [second["id"], first["id"]]
    # each listed job carries its own artifacts (read for the whole page at once)
    assert [[a["name"] for a in j["artifacts"]] for j in history["items"]] == [["repaired.obj"], ["repaired.stl"]]
    stranger = stack.new_key("stranger")
    with stack.client(stranger["api_key"]) as other:
        assert other.get(f"/mesh/history/{first['input']['sha256']}").json()["total"] == 0
        assert_error(other.post("/mesh/repair", data={"input_job_id": first["id"]}), 404, "JOB_NOT_FOUND")

    stats = client.get("/mesh/stats").json()["stats"]
    assert stats["total_repairs"] == 2 and stats["successful_repairs"] == 2
    assert stats["total_holes_filled"] >= 1 and stats["watertight_achieved"] == 2
    figures = next(d for d in client.get("/stats").json()["domains"] if d["operation"] == "repair")["figures"]
    assert figures == stats


def test_identical_repair_reuses_the_result(stack, user):
    client, _ = user
    data = broken_two_shells(2.5)
    first = repair(client, data)
    again = client.post("/mesh/repair", files={"file": ("same.stl", data)})
    assert again.status_code == 202 and again.json()["state"] == "succeeded"
    assert again.json()["result"] == first["result"]


def test_bad_repair_requests(stack, user):
    client, _ = user
    error = assert_error(client.post("/mesh/repair", files={"file": ("x.stl", CUBE)},
                                     data={"output_format": "dwg", "max_hole_size": "2", "aggressive": "maybe"}),
                         422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {"output_format", "max_hole_size", "aggressive"}
    assert_error(client.post("/mesh/repair", data={"units": "mm"}), 422, "VALIDATION_ERROR")
    assert_error(client.get("/mesh/history/not-a-hash"), 422, "VALIDATION_ERROR")
    job = repair(client, b"solid x\n facet normal 0 0 1\n outer loop\n vertex 0 0 0\n vertex 1 0 0\n endloop\n")
    assert job["state"] == "failed" and job["error"]["class"] == "permanent"
