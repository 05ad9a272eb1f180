"""Spine mesh attachment export."""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.contour import mesh_sprite
from pipelines.spine_export import spine_mesh_attachment


def test_spine_attachment_shape():
    img = np.zeros((40, 60, 4), np.uint8)
    cv2.rectangle(img, (10, 5), (49, 34), (255, 255, 255, 255), -1)
    result = mesh_sprite(cv2.imencode(".png", img)[1].tobytes())
    att = spine_mesh_attachment(result, path="box")
    n = len(result["vertices"])
    assert att["type"] == "mesh" and att["path"] == "box"
    assert len(att["vertices"]) == len(att["uvs"]) == 2 * n
    assert len(att["triangles"]) == 3 * len(result["triangles"])
    assert att["hull"] == result["hull"] == 4
    assert att["edges"].tolist() == [2 * i for e in result["boundary_edges"].tolist() for i in e]
    assert (att["width"], att["height"]) == (60, 40)
    xy = np.array(att["vertices"]).reshape(-1, 2)
    src = np.array(result["vertices"])
    assert np.allclose(xy[:, 0], src[:, 0] - 30) and np.allclose(xy[:, 1], 20 - src[:, 1])
