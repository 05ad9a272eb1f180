"""Shells of a triangle mesh and the cheap fixes applied to broken ones.

A *shell* is a set of faces connected through shared edges (any number of faces per edge, so a
non-manifold edge does not cut a shell in two). A shell is *clean* when every edge is used by
exactly two of its faces, walked once in each direction (watertight and winding-consistent).
Everything here is vectorised over ``(m, 3) int`` face arrays except the small union-find used
for stitching.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order
from scipy.spatial import cKDTree

from pipelines.graph_components import TINY, component_count, components, shared_key_components
from pipelines.mesh_repair_tol import TOL, RepairTol


def _edges(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per directed edge (3m,): the undirected edge id, use count of that id, and +1/-1 direction."""
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2).astype(np.int64)
    low, high = directed.min(axis=1), directed.max(axis=1)
    _, edge_id, counts = np.unique(low * np.int64(max(n_vertices, 1)) + high, return_inverse=True,
                                   return_counts=True)
    sign = np.where(directed[:, 0] < directed[:, 1], 1, -1)
    return edge_id.ravel(), counts[edge_id.ravel()], sign


def shell_labels(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(m,) int: shell label of each face; faces sharing any edge share a label."""
    m = len(faces)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    edge_id, _, _ = _edges(faces, n_vertices)
    order = np.argsort(edge_id, kind="stable")
    return shared_key_components(m, edge_id[order], order // 3)


def bad_faces(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(m,) bool: faces on a boundary, non-manifold or badly wound edge, or with repeated indices."""
    if len(faces) == 0:
        return np.zeros(0, dtype=bool)
    edge_id, uses, sign = _edges(faces, n_vertices)
    balance = np.bincount(edge_id, weights=sign)[edge_id]
    bad_edge = (uses != 2) | (balance != 0)
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    return bad_edge.reshape(-1, 3).any(axis=1) | repeated


def clean_face_mask(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """((m,) bool faces whose whole shell is clean, (m,) int shell labels)."""
    labels = shell_labels(faces, n_vertices)
    bad = bad_faces(faces, n_vertices)
    bad_labels = np.unique(labels[bad])
    return ~np.isin(labels, bad_labels), labels


def is_clean(mesh: trimesh.Trimesh) -> bool:
    """True when every shell of ``mesh`` is watertight and winding-consistent."""
    return len(mesh.faces) > 0 and not bad_faces(np.asarray(mesh.faces), len(mesh.vertices)).any()


def diagonal(mesh: trimesh.Trimesh) -> float:
    """Bounding-box diagonal of the vertices ``mesh``'s faces use (1.0 when empty)."""
    if len(mesh.faces) == 0:
        return 1.0
    used = mesh.vertices[np.unique(mesh.faces)]
    return float(np.linalg.norm(np.ptp(used, axis=0))) or 1.0


def cheap_fixes(
    mesh: trimesh.Trimesh, scale: float, tol: RepairTol = TOL, *, walls: bool = True
) -> tuple[trimesh.Trimesh, list[str]]:
    """Merge, drop degenerate/duplicate faces, stitch cracks, fix winding; returns (mesh, operations).

    ``walls`` picks how ambiguous input is read. True (the first reading): an opposite-wound
    duplicate pair is the shared wall of two touching solids and is kept, and coplanar faces of
    opposite winding at a crowded edge go to different solids. False (the fallback reading, for
    when the first leaves shells open): every duplicate is redundant (a double-sided surface)
    and coplanar opposite faces are paired with each other (a zero-thickness fin).
    """
    mesh = mesh.copy()
    ops: list[str] = []
    before = len(mesh.vertices)
    mesh.merge_vertices()
    if len(mesh.vertices) != before:
        ops.append("merge_vertices")
    ops += _drop_faces(mesh, walls)
    welded = stitch_boundary(mesh, tol.stitch_distance * scale)
    if welded:
        ops.append(f"stitch({welded})")
        ops += _drop_faces(mesh, walls)
    if bad_faces(mesh.faces, len(mesh.vertices)).any():
        faces = np.asarray(mesh.faces)
        wound = fix_winding(faces, len(mesh.vertices))
        if not np.array_equal(faces, wound):
            mesh.faces = wound
            ops.append("fix_winding")
    mesh, cut = unglue_non_manifold(mesh, split_coplanar=walls)
    if cut:
        ops.append(f"split_non_manifold_edges({cut})")
    mesh.remove_unreferenced_vertices()
    return mesh, ops


def fix_winding(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(m, 3) faces wound consistently: across every edge used by exactly two faces, the two walk
    it in opposite directions wherever a spanning tree of such edges allows (as
    ``trimesh.repair.fix_winding``, vectorised). The first face of each patch keeps its winding.
    """
    faces = np.asarray(faces, dtype=np.int64)
    m = len(faces)
    if m < 2:
        return faces.copy()
    edge_id, uses, sign = _edges(faces, n_vertices)
    pick = np.nonzero(uses == 2)[0]
    pick = pick[np.argsort(edge_id[pick], kind="stable")]
    a, b = pick[0::2], pick[1::2]
    fa, fb = a // 3, b // 3
    keep = fa != fb
    fa, fb, same = fa[keep], fb[keep], (sign[a] == sign[b])[keep]
    if m <= TINY:
        return _tiny_fix_winding(faces, fa.tolist(), fb.tolist(), same.tolist())
    # a virtual root m links to the first face of every patch, so one traversal covers all
    label = components(m, fa, fb)
    _, first = np.unique(label, return_index=True)
    rows = np.concatenate([fa, fb, np.full(len(first), m)])
    cols = np.concatenate([fb, fa, first])
    flag = np.concatenate([same, same, np.zeros(len(first), dtype=bool)]).astype(np.int64) + 1
    graph = coo_matrix((flag, (rows, cols)), shape=(m + 1, m + 1)).tocsr()
    order, parent = breadth_first_order(graph, m, directed=True, return_predecessors=True)
    node = order[1:]
    parity = np.zeros(m + 1, dtype=np.int64)
    parity[node] = (np.asarray(graph[parent[node], node]).ravel() - 1) % 2
    up = np.arange(m + 1)
    up[node] = parent[node]
    while (up[:m] != m).any():  # pointer jumping: parity relative to the root
        parity = parity ^ parity[up]
        up = up[up]
    flip = parity[:m].astype(bool)
    out = faces.copy()
    out[flip] = out[flip][:, ::-1]
    return out


def _tiny_fix_winding(faces: np.ndarray, fa: list[int], fb: list[int], same: list[bool]) -> np.ndarray:
    """``fix_winding`` for a few faces: a plain breadth-first walk (scipy's set-up costs more)."""
    m = len(faces)
    links: list[list[tuple[int, bool]]] = [[] for _ in range(m)]
    for x, y, s in zip(fa, fb, same, strict=True):
        links[x].append((y, s))
        links[y].append((x, s))
    flip = [False] * m
    seen = [False] * m
    for root in range(m):
        if seen[root]:
            continue
        seen[root] = True
        queue = [root]
        for x in queue:
            for y, s in links[x]:
                if not seen[y]:
                    seen[y] = True
                    flip[y] = flip[x] ^ s
                    queue.append(y)
    out = faces.copy()
    mask = np.array(flip, dtype=bool)
    out[mask] = out[mask][:, ::-1]
    return out


def _drop_faces(mesh: trimesh.Trimesh, walls: bool = True) -> list[str]:
    """Drop degenerate then duplicate faces in place (opposite pairs kept when ``walls``)."""
    ops = []
    keep = mesh.nondegenerate_faces()
    if not keep.all():
        ops.append(f"remove_degenerate({int((~keep).sum())})")
        mesh.update_faces(keep)
    unique = _non_duplicate_mask(np.asarray(mesh.faces)) if walls else _first_of_each(mesh.faces)
    if not unique.all():
        ops.append(f"remove_duplicate({int((~unique).sum())})")
        mesh.update_faces(unique)
    return ops


def _first_of_each(faces: np.ndarray) -> np.ndarray:
    """(m,) bool: the first face on each set of three vertices, whatever its winding."""
    keep = np.zeros(len(faces), dtype=bool)
    if len(faces):
        _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
        keep[first] = True
    return keep


def _non_duplicate_mask(faces: np.ndarray) -> np.ndarray:
    """(m,) bool: faces to keep among faces on the same three vertices.

    A copy wound the other way is not redundant: with its twin it is the shared wall of two
    solids that touch (``unglue_non_manifold`` takes them apart), so opposite copies are kept in
    pairs and only the surplus of one winding is cut to a single face.
    """
    if len(faces) < 2:
        return np.ones(len(faces), dtype=bool)
    ordered = np.sort(faces, axis=1)
    # winding parity: the face is an even permutation of its sorted vertices, or an odd one
    rank = np.argsort(faces, axis=1)
    even = (rank[:, 0] - rank[:, 1]) * (rank[:, 1] - rank[:, 2]) * (rank[:, 2] - rank[:, 0]) > 0
    _, group = np.unique(ordered, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.lexsort((np.arange(len(faces)), ~even, group))
    g, e = group[order], even[order]
    start = np.r_[True, (g[1:] != g[:-1]) | (e[1:] != e[:-1])]
    nth = np.arange(len(order)) - np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    n_even = np.bincount(group, weights=even, minlength=group.max() + 1)[g]
    n_odd = np.bincount(group, weights=~even, minlength=group.max() + 1)[g]
    mine, other = np.where(e, n_even, n_odd), np.where(e, n_odd, n_even)
    allowed = other + (mine > other)  # as many as the other winding has, plus one of the surplus
    keep = np.zeros(len(faces), dtype=bool)
    keep[order] = nth < np.minimum(mine, allowed)
    return keep


def stitch_boundary(mesh: trimesh.Trimesh, distance: float) -> int:
    """Weld open-boundary vertices closer than ``distance`` in place; returns how many were welded."""
    if distance <= 0 or len(mesh.faces) == 0:
        return 0
    _, uses, _ = _edges(mesh.faces, len(mesh.vertices))
    directed = mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    open_vertices = np.unique(directed[uses == 1])
    if len(open_vertices) < 2:
        return 0
    pairs = cKDTree(mesh.vertices[open_vertices]).query_pairs(distance, output_type="ndarray")
    if len(pairs) == 0:
        return 0
    n = len(open_vertices)
    group = components(n, pairs[:, 0], pairs[:, 1])
    first = np.full(group.max() + 1, -1)
    first[group[::-1]] = open_vertices[::-1]  # lowest vertex index of each group
    remap = np.arange(len(mesh.vertices))
    remap[open_vertices] = first[group]
    welded = int((remap != np.arange(len(remap))).sum())
    mesh.faces = remap[mesh.faces]
    return welded


def principal_thickness(vertices: np.ndarray) -> float:
    """Extent of ``(n, 3) float`` points along their direction of least spread."""
    if len(vertices) < 4:
        return 0.0
    centred = vertices - vertices.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return float(np.ptp(centred @ axes[-1]))


def unglue_non_manifold(mesh: trimesh.Trimesh, split_coplanar: bool = True) -> tuple[trimesh.Trimesh, int]:
    """Cut edges used by more than two faces into manifold pairs; returns (mesh, edges cut).

    Where the faces at such an edge come from patches (faces linked through ordinary two-face
    edges) with exactly one face each way there, each patch keeps its two faces paired
    (``_pair_within_patch``). Otherwise the faces are sorted by angle and neighbours whose normals point away
    from the sector between them (a solid wedge) are paired; unpaired faces keep the edge as a
    boundary. Corners are then re-joined only across paired or ordinary edges, so solids that
    touched along an edge or at a vertex come apart into separate watertight shells. Coplanar
    faces of opposite winding go to different wedges when ``split_coplanar`` (solids sharing a
    wall), else they are paired with each other (a zero-thickness fin closed on its own).
    """
    faces = np.asarray(mesh.faces, dtype=np.int64)
    edge_id, uses, _ = _edges(faces, len(mesh.vertices))
    if not (uses > 2).any():
        return mesh, 0
    half = np.arange(len(edge_id))
    mate = np.full(len(half), -1)
    ordinary = np.nonzero(uses == 2)[0]
    order = ordinary[np.argsort(edge_id[ordinary], kind="stable")]
    mate[order[0::2]], mate[order[1::2]] = order[1::2], order[0::2]
    crowded = np.nonzero(uses > 2)[0]
    groups = np.split(crowded[np.argsort(edge_id[crowded], kind="stable")],
                      np.nonzero(np.diff(np.sort(edge_id[crowded])))[0] + 1)
    vertices = np.asarray(mesh.vertices, dtype=np.float64).view(np.ndarray)
    tri = vertices[faces]
    normals = _cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    patch = _ordinary_patches(len(faces), order)
    for group in groups:
        own, rest = _pair_within_patch(group, patch, faces)
        if len(rest) > 1:
            own += _pair_around_edge(vertices, normals, faces, rest, split_coplanar)
        for a, b in own:
            mate[a], mate[b] = b, a
    return _rebuild_from_corners(mesh, faces, mate), len(groups)


def _ordinary_patches(m: int, ordinary: np.ndarray) -> np.ndarray:
    """(m,) int: patch label of each face, faces linked only through edges used by two faces.

    ``ordinary`` lists the half-edges of such edges sorted so that mates are adjacent pairs.
    """
    a, b = ordinary[0::2] // 3, ordinary[1::2] // 3
    return components(m, a, b)


def _pair_within_patch(
    group: np.ndarray, patch: np.ndarray, faces: np.ndarray
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(pairs, the rest): when every face at this edge belongs to a patch with exactly one half-edge
    each way there, each patch closes on itself; otherwise no pairs and the whole group.

    Solids that overlap or share a face plane meet at an edge in coinciding wedges, which the
    angular pairing cannot tell apart; but each solid's surface is connected through ordinary
    edges elsewhere, so the two faces of one patch at the edge are its own wedge. Any other face
    there (a fin, a surface folded onto itself) leaves the edge to the angular pairing.
    """
    face, corner = group // 3, group % 3
    forward = faces[face, corner] < faces[face, (corner + 1) % 3]
    pairs, used = [], np.zeros(len(group), dtype=bool)
    labels, counts = np.unique(patch[face], return_counts=True)
    for label in labels[counts == 2]:
        i, j = np.nonzero(patch[face] == label)[0]
        if forward[i] != forward[j]:
            pairs.append((int(group[i]), int(group[j])))
            used[[i, j]] = True
    if not used.all():  # other faces too (fins, a surface touching itself): geometry decides all
        return [], group
    return pairs, group[~used]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (n, 3) arrays (np.cross without its per-call axis handling)."""
    return np.column_stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]])


def _pair_around_edge(
    vertices: np.ndarray, normals: np.ndarray, faces: np.ndarray, group: np.ndarray, split_coplanar: bool = True
) -> list[tuple[int, int]]:
    """Pairs of half-edges (ids 3*face+corner) around one crowded edge that bound a solid wedge.

    ``normals`` are the faces' (unnormalised) normals; only their sign against the wedge matters.
    """
    face, corner = group // 3, group % 3
    start, end = faces[face, corner], faces[face, (corner + 1) % 3]
    u, v = (start[0], end[0])
    axis = vertices[v] - vertices[u]
    axis = axis / (np.sqrt(axis @ axis) or 1.0)
    wing = vertices[faces[face, (corner + 2) % 3]] - vertices[u]
    wing -= np.outer(wing @ axis, axis)
    base = wing[0] / (np.sqrt(wing[0] @ wing[0]) or 1.0)
    turn = _cross(axis[None, :], base[None, :])[0]
    angle = np.arctan2(wing @ turn, wing @ base)
    side = np.einsum("ij,ij->i", normals[face], _cross(np.broadcast_to(axis, wing.shape), wing))
    forward = start == u
    # coplanar faces (equal angles): with split_coplanar the face that ends a wedge comes before
    # the one that starts the next, so solids sharing a face come apart the same way at every
    # edge of that face; otherwise the other way round, so the two close a fin between them
    ring = list(np.lexsort((~forward if split_coplanar else forward, np.round(angle, 9))))
    pairs = []
    changed = True
    while changed and len(ring) > 1:
        changed = False
        for k in range(len(ring)):
            i, j = ring[k], ring[(k + 1) % len(ring)]
            if i != j and side[i] < 0 < side[j] and forward[i] != forward[j]:
                pairs.append((int(group[i]), int(group[j])))
                ring = [r for r in ring if r not in (i, j)]
                changed = True
                break
    return pairs


def _rebuild_from_corners(mesh: trimesh.Trimesh, faces: np.ndarray, mate: np.ndarray) -> trimesh.Trimesh:
    """New vertices: corners at one vertex joined through mated half-edges share a vertex."""
    n = len(mate)
    glued = np.nonzero(mate >= 0)[0]
    other = mate[glued]
    nxt = lambda h: (h // 3) * 3 + (h % 3 + 1) % 3  # noqa: E731
    # half-edge h runs corner h -> corner nxt(h); its mate runs the other way
    a = np.concatenate([glued, nxt(glued)])
    b = np.concatenate([nxt(other), other])
    label = components(n, a, b)
    corner_vertex = faces.ravel()
    _, first = np.unique(label, return_index=True)
    vertices = mesh.vertices[corner_vertex[first]]
    _, new_index = np.unique(label, return_inverse=True)
    return trimesh.Trimesh(vertices, new_index.reshape(-1, 3), process=False)


def clean_summary(vertices: np.ndarray, faces: np.ndarray) -> tuple[int, float] | None:
    """(shells, signed volume) when every shell is clean, else None: one sort of the edges.

    The fast path for inputs that need no repair. The volume is computed exactly as
    ``mesh_analysis.analyze_mesh`` does (about the centre of the used vertices' box), and for a
    clean mesh its shell count equals ``analyze_mesh``'s, so the two reports agree.
    """
    m = len(faces)
    if m == 0:
        return None
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    if ((a == b) | (b == c) | (c == a)).any():
        return None
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    start, end = directed[:, 0], directed[:, 1]
    forward = start < end
    keys = np.where(forward, start, end) * np.int64(max(len(vertices), 1)) + np.where(forward, end, start)
    order = np.argsort(keys)
    ordered = keys[order]
    first, second = ordered[0::2], ordered[1::2]
    # every edge used exactly twice: sorted keys come in equal pairs, and no pair equals the next
    if len(first) != len(second) or (first != second).any() or (second[:-1] == first[1:]).any():
        return None
    if (forward[order[0::2]] == forward[order[1::2]]).any():  # walked once in each direction
        return None
    shells = component_count(m, order[0::2] // 3, order[1::2] // 3)
    vertices = np.asarray(vertices, dtype=np.float64)
    used = vertices[np.bincount(faces.ravel(), minlength=len(vertices)) > 0]
    centre = (used.min(axis=0) + used.max(axis=0)) / 2.0
    tri = vertices[faces]
    u, v = (tri[:, 1] - tri[:, 0]).T, (tri[:, 2] - tri[:, 0]).T
    # np.cross's own arithmetic (one product minus the other), without its axis handling
    cross = np.empty((m, 3))
    cross[:, 0] = u[1] * v[2] - u[2] * v[1]
    cross[:, 1] = u[2] * v[0] - u[0] * v[2]
    cross[:, 2] = u[0] * v[1] - u[1] * v[0]
    volume = float(np.einsum("ij,ij->", tri[:, 0] - centre, cross) / 6.0)
    return shells, volume
