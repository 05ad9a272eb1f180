"""Tessellation: the face map covers every face, the GLB keeps triangle order."""

from __future__ import annotations

import io

import numpy as np
import trimesh

from onnx_models.generate_parts import generate_part
from pipelines.step_load import load_step
from pipelines.step_tessellate import tessellate, to_glb


def test_face_map_and_glb():
    loaded = load_step(generate_part(5, kind="pocket_blind").step)
    n = len(loaded.faces)
    mesh = tessellate(loaded.shape, loaded.faces, list(range(n)))
    assert len(mesh.face_map) == len(mesh.triangles)
    assert set(np.unique(mesh.face_map)) == set(range(n))
    glb = to_glb(mesh.vertices, mesh.triangles)
    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    assert sum(len(g.faces) for g in scene.geometry.values()) == len(mesh.triangles)


def test_finer_deflection_gives_more_triangles():
    loaded = load_step(generate_part(1, kind="hole_through").step)
    idx = list(range(len(loaded.faces)))
    coarse = tessellate(loaded.shape, loaded.faces, idx, linear_deflection=1.0)
    loaded = load_step(generate_part(1, kind="hole_through").step)
    fine = tessellate(loaded.shape, loaded.faces, idx, linear_deflection=0.02)
    assert len(fine.triangles) > len(coarse.triangles)
