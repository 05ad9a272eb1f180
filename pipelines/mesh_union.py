"""Union of overlapping closed shells with manifold3d (only used when asked to remove intersections).

manifold3d stores coordinates as float32, so only shells whose boxes overlap another closed shell
go through it; every other shell is returned untouched.
"""

from __future__ import annotations

import manifold3d
import numpy as np
import trimesh


def _overlapping(pieces: list[trimesh.Trimesh], closed: list[bool]) -> list[int]:
    """Indices of closed shells whose bounding box overlaps another closed shell's."""
    chosen = set()
    for i, a in enumerate(pieces):
        for j in range(i + 1, len(pieces)):
            if closed[i] and closed[j]:
                b = pieces[j]
                if (a.bounds[0] < b.bounds[1]).all() and (b.bounds[0] < a.bounds[1]).all():
                    chosen.update((i, j))
    return sorted(chosen)


def _to_manifold(mesh: trimesh.Trimesh) -> manifold3d.Manifold:
    data = manifold3d.Mesh(vert_properties=np.asarray(mesh.vertices, dtype=np.float32),
                           tri_verts=np.asarray(mesh.faces, dtype=np.uint32))
    return manifold3d.Manifold(data)


def unite_overlapping(
    pieces: list[trimesh.Trimesh], closed: list[bool]
) -> tuple[list[trimesh.Trimesh], list[bool], int]:
    """(pieces, closed flags, how many shells were united): overlapping closed shells become one."""
    chosen = _overlapping(pieces, closed)
    if len(chosen) < 2:
        return pieces, closed, 0
    solids = [_to_manifold(pieces[i]) for i in chosen]
    if any(solid.status() != manifold3d.Error.NoError for solid in solids):
        return pieces, closed, 0
    result = manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add).to_mesh()
    united = trimesh.Trimesh(np.asarray(result.vert_properties[:, :3], dtype=np.float64),
                             np.asarray(result.tri_verts, dtype=np.int64), process=False)
    rest = [i for i in range(len(pieces)) if i not in chosen]
    return [pieces[i] for i in rest] + [united], [closed[i] for i in rest] + [True], len(chosen)
