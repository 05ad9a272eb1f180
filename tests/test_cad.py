"""The CAD domain end to end (issue 5): POST /cad/analyze over real HTTP and worker processes,
on the embedded defaults and on Redis + PostgreSQL + moto S3."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import httpx
import pytest
from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeEdge
from OCP.gp import gp_Pnt

from onnx_models.generate_parts import GeneratedPart, generate_part, shape_to_step
from tests.conftest import shared_dir
from tests.stack import poll

DATA = Path(__file__).parent / "data"
TERMINAL = {"succeeded", "failed", "dead", "canceled"}
STAGES = ["file", "format", "parse", "geometry", "quality"]


@pytest.fixture(scope="module")
def part() -> GeneratedPart:
    """Stock with a boss, chamfer, through hole, through pocket and a through step."""
    made = generate_part(4)
    assert {"boss", "chamfer", "hole_through", "step_through"} <= set(made.labels)
    return made


@pytest.fixture(scope="module")
def bad_steps() -> dict[str, bytes]:
    good = generate_part(5, kind="boss").step
    return {
        "schema": good.replace(b"AUTOMOTIVE_DESIGN", b"MADE_UP_SCHEMA"),
        "truncated": good[: len(good) // 2],
        "wire": shape_to_step(BRepBuilderAPI_MakeEdge(gp_Pnt(0, 0, 0), gp_Pnt(10, 0, 0)).Edge()),
    }


def post_cad(client: httpx.Client, data: bytes, name: str = "part.step", **form) -> httpx.Response:
    return client.post("/cad/analyze", files={"file": (name, data)}, data=form)


def analyze(client: httpx.Client, data: bytes, name: str = "part.step", **form) -> dict:
    response = post_cad(client, data, name, **form)
    assert response.status_code == 202, response.text
    return poll(client, response.json()["id"], TERMINAL)


def events(client: httpx.Client, job_id: str) -> list[dict]:
    return client.get(f"/jobs/{job_id}/events").json()["items"]


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def glb_triangles(glb: bytes) -> int:
    """Triangle count of a one-mesh GLB, from its JSON chunk's index accessor."""
    assert glb[:4] == b"glTF" and struct.unpack_from("<I", glb, 8)[0] == len(glb)
    length, kind = struct.unpack_from("<II", glb, 12)
    assert kind == 0x4E4F534A  # "JSON"
    gltf = json.loads(glb[20:20 + length])
    (primitive,) = [p for m in gltf["meshes"] for p in m["primitives"]]
    return gltf["accessors"][primitive["indices"]]["count"] // 3


def test_part_analyzed_with_labels_glb_and_face_map(stack, user, part):
    client, _ = user
    job = analyze(client, part.step, linear_deflection="0.2", heal="true")
    assert job["state"] == "succeeded", job
    assert job["input"]["format"] == "step" and job["progress"] == 100
    assert job["params"] == {"linear_deflection": 0.2, "angular_deflection": 0.5, "heal": True, "tier": None}
    result = job["result"]
    assert result["tier"]["used"] == 2 and result["tier"]["name"] == "rules"
    assert 0 < result["tier"]["confidence"] <= 1
    assert [f["label"] for f in result["faces"]] == part.labels
    assert [f["index"] for f in result["faces"]] == list(range(len(part.labels)))
    assert result["validation"]["solids"] == 1 and result["validation"]["quality_score"] == 1.0
    assert [s["stage"] for s in result["validation"]["stages"]] == STAGES
    assert {f["type"] for f in result["features"]} >= {"boss", "hole_through"}

    assert {a["name"]: a["media_type"] for a in job["artifacts"]} == {
        "model.glb": "model/gltf-binary", "face_map.json": "application/json"}
    glb = client.get(f"/jobs/{job['id']}/artifacts/model.glb")
    assert glb.status_code == 200 and glb.headers["content-type"] == "model/gltf-binary"
    face_map = client.get(f"/jobs/{job['id']}/artifacts/face_map.json").json()
    triangles = glb_triangles(glb.content)
    assert len(face_map["triangle_face"]) == triangles == result["tessellation"]["triangles"]
    assert set(face_map["triangle_face"]) == set(range(len(part.labels)))  # every face is meshed
    assert [f["label"] for f in face_map["faces"]] == part.labels

    history = events(client, job["id"])
    stages = [e for e in history if e["type"] == "cad.stage"]
    assert [e["data"]["stage"] for e in stages] == STAGES and all(e["data"]["ok"] for e in stages)
    assert [e["type"] for e in history if e["type"] == "cad.healing_applied"] == ["cad.healing_applied"]
    assert history[-1]["type"] == "job.succeeded"


def test_identical_upload_reuses_result_and_other_options_run_again(stack, user):
    client, _ = user
    step = generate_part(6).step
    first = analyze(client, step)
    assert first["state"] == "succeeded", first

    again = post_cad(client, step, name="copy.stp")
    assert again.status_code == 202
    second = again.json()
    assert second["state"] == "succeeded" and second["id"] != first["id"]  # finished in the POST itself
    assert second["result"] == first["result"]
    assert {a["name"]: a["sha256"] for a in second["artifacts"]} == {
        a["name"]: a["sha256"] for a in first["artifacts"]}
    history = events(client, second["id"])
    assert "job.running" not in {e["type"] for e in history}  # no worker ran it
    assert history[-1]["type"] == "job.succeeded" and history[-1]["data"]["reused_job_id"] == first["id"]
    assert client.get(f"/jobs/{second['id']}/artifacts/model.glb").content[:4] == b"glTF"

    coarse = analyze(client, step, angular_deflection="1.0", tier="view_only")
    assert coarse["state"] == "succeeded"
    assert "job.running" in {e["type"] for e in events(client, coarse["id"])}
    assert coarse["result"]["tier"]["used"] == 4 and coarse["result"]["features"] == []
    assert coarse["params"]["tier"] == 4


@pytest.mark.parametrize(("case", "code", "stage"), [
    ("schema", "CAD_UNSUPPORTED_SCHEMA", "format"),
    ("truncated", "CAD_TRUNCATED", "format"),
    ("wire", "CAD_NO_GEOMETRY", "geometry"),
])
def test_bad_step_fails_permanently_with_its_stage(stack, user, bad_steps, case, code, stage):
    client, _ = user
    job = analyze(client, bad_steps[case], name=f"{case}.step")
    assert job["state"] == "failed", job
    assert job["error"]["code"] == code and job["error"]["class"] == "permanent"
    assert job["attempts"] == 1 and job["artifacts"] == []
    details = job["error"]["details"]
    assert details["stage"] == stage and details["stages"][-1] == {
        "stage": stage, "ok": False, "code": code, "details": details["stages"][-1]["details"]}
    failed = events(client, job["id"])[-1]
    assert failed["type"] == "job.failed" and failed["data"]["code"] == code


def test_bad_uploads_and_options_refused_at_the_api(stack, user, part):
    client, _ = user
    assert_error(post_cad(client, b""), 422, "EMPTY_FILE")
    error = assert_error(post_cad(client, bytes(range(256)) * 40, name="part.step"), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert error["details"]["detected"] == "unknown" and set(error["details"]["allowed"]) == {"step", "stl", "obj"}
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    assert_error(post_cad(client, png, name="part.stp"), 415, "UNSUPPORTED_MEDIA_TYPE")
    error = assert_error(post_cad(client, part.step, linear_deflection="0", angular_deflection="2",
                                  heal="maybe", tier="7", callback_url="nope"), 422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == {
        "linear_deflection", "angular_deflection", "heal", "tier", "callback_url"}
    assert_error(client.post("/cad/analyze", data={"heal": "true"}), 422, "VALIDATION_ERROR")
    assert client.get("/jobs", params={"domain": "cad"}).json()["total"] == 0  # nothing was created


def test_stl_falls_back_to_mesh_heuristics(stack, user):
    client, _ = user
    job = analyze(client, (DATA / "sample_cube.stl").read_bytes(), name="cube.stl")
    assert job["state"] == "succeeded", job
    assert job["input"]["format"] == "stl"
    result = job["result"]
    assert result["tier"]["used"] == 3 and result["tier"]["name"] == "mesh_heuristics"
    assert result["validation"]["mesh_only"] is True
    assert [f["label"] for f in result["faces"]] == ["stock"] * 6  # a cube: six flat sides of the stock
    face_map = client.get(f"/jobs/{job['id']}/artifacts/face_map.json").json()
    glb = client.get(f"/jobs/{job['id']}/artifacts/model.glb").content
    assert len(face_map["triangle_face"]) == glb_triangles(glb) == 12


@pytest.mark.skipif(shared_dir() is None, reason="../shared/step not present")
def test_step_starting_with_a_comment_is_accepted(stack, user):
    client, _ = user
    data = (shared_dir() / "step" / "occt-testdata__bug25169_box-openshell.stp").read_bytes()
    assert data.startswith(b"/*")  # a C comment before ISO-10303-21; (a box written as an OPEN_SHELL)
    job = analyze(client, data, name="openshell.stp")
    assert job["state"] == "succeeded", job
    assert job["input"]["format"] == "step" and job["result"]["tier"]["used"] == 2
    assert [f["label"] for f in job["result"]["faces"]] == ["stock"] * 6
