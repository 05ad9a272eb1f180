"""manifold3d on meshes: union of overlapping closed shells, the volume they share, and reading
balanced non-manifold parts.

manifold3d stores coordinates as float32, so only what needs it goes through it:
``unite_overlapping`` (only when asked to remove intersections) takes only the shells whose boxes
overlap another closed shell, and ``manifold_reading`` only a broken part the cheap fixes could
not close. The latter works when every edge is walked as often one way as the other (solids
that overlap or touch along edges, with no hole): manifold3d pairs those half-edges itself.
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
    return _manifold(mesh.vertices, mesh.faces)


def _manifold(vertices: np.ndarray, faces: np.ndarray) -> manifold3d.Manifold:
    data = manifold3d.Mesh(vert_properties=np.asarray(vertices, dtype=np.float32),
                           tri_verts=np.asarray(faces, dtype=np.uint32))
    return manifold3d.Manifold(data)


def solids_overlap(solids: list[tuple[np.ndarray, np.ndarray]], pairs: list[tuple[int, int]],
                   min_share: float) -> tuple[set[int], float] | None:
    """Which of the closed, outward-wound ``solids`` (vertices, faces) share more than ``min_share``
    of the smaller one's volume with another (of the candidate ``pairs``), and the volume counted
    more than once over them; None when manifold3d cannot read one of them."""
    parts = {i: _manifold(*solids[i]) for i in sorted({k for pair in pairs for k in pair})}
    if any(part.status() != manifold3d.Error.NoError for part in parts.values()):
        return None
    volume = {i: part.volume() for i, part in parts.items()}
    sharing: set[int] = set()
    for i, j in pairs:
        if (parts[i] ^ parts[j]).volume() > min_share * min(volume[i], volume[j]):
            sharing.update((i, j))
    if not sharing:
        return sharing, 0.0
    chosen = sorted(sharing)
    union = manifold3d.Manifold.batch_boolean([parts[i] for i in chosen], manifold3d.OpType.Add).volume()
    return sharing, float(sum(volume[i] for i in chosen) - union)


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


def manifold_reading(mesh: trimesh.Trimesh) -> trimesh.Trimesh | None:
    """``mesh`` as manifold3d reads it (a closed, oriented manifold), or None when it cannot."""
    solid = _to_manifold(mesh)
    if solid.status() != manifold3d.Error.NoError or solid.is_empty():
        return None
    result = solid.to_mesh()
    return trimesh.Trimesh(np.asarray(result.vert_properties[:, :3], dtype=np.float64),
                           np.asarray(result.tri_verts, dtype=np.int64), process=False)
