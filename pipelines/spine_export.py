"""Sprite mesh result -> Spine mesh attachment JSON (unweighted; Spine 3.8-4.2 layout).

Spine's vertices are y-up and centred on the image; UVs keep the image's top-left origin.
``hull`` counts the boundary vertices, which come first; Spine meshes have one hull and no
holes, so a multi-island or holed result keeps every boundary loop in ``edges`` (nonessential
data, vertex indices times two as Spine writes them) and counts all loops in ``hull``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def spine_mesh_attachment(result: dict[str, Any], *, path: str | None = None, digits: int = 2) -> dict[str, Any]:
    """The mesh attachment dict for one ``mesh_sprite`` result (flat numpy arrays, as JSON Spine's
    flat lists)."""
    width, height = result["metadata"]["width"], result["metadata"]["height"]
    xy = np.asarray(result["vertices"], dtype=float).reshape(-1, 2)
    local = np.stack([xy[:, 0] - width / 2, height / 2 - xy[:, 1]], axis=1)
    attachment: dict[str, Any] = {
        "type": "mesh",
        "uvs": np.round(np.asarray(result["uvs"], dtype=float), 6).ravel(),
        "triangles": np.asarray(result["triangles"]).ravel(),
        "vertices": np.round(local, digits).ravel(),
        "hull": int(result["hull"]),
        "edges": 2 * np.asarray(result["boundary_edges"]).ravel(),
        "width": width,
        "height": height,
    }
    if path:
        attachment["path"] = path
    return attachment
