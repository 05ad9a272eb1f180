"""Boundary loops of an open shell and how they are closed.

A boundary loop is a cycle of directed edges each used by one face only. Loops are closed with
a fan: one triangle for a three-edge loop, otherwise triangles to a new vertex at the loop's
centroid, wound against the loop so the new faces agree with their neighbours.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    """(k, 2) int: directed edges (as the faces walk them) used by exactly one face."""
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    _, inverse, counts = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True,
                                   return_counts=True)
    return directed[counts[inverse.ravel()] == 1]


def boundary_loops(faces: np.ndarray) -> list[np.ndarray] | None:
    """Vertex cycles of the open boundary, or None when the edges do not chain into cycles."""
    outgoing: dict[int, list[int]] = defaultdict(list)
    for a, b in boundary_edges(faces).tolist():
        outgoing[a].append(b)
    loops: list[np.ndarray] = []
    while outgoing:
        start = next(iter(outgoing))
        path, position, current = [start], {start: 0}, start
        while True:
            targets = outgoing.get(current)
            if not targets:
                return None
            nxt = targets.pop()
            if not targets:
                del outgoing[current]
            if nxt in position:
                cut = position[nxt]
                loops.append(np.array(path[cut:]))
                for v in path[cut + 1:]:
                    position.pop(v)
                path = path[: cut + 1]
                if cut == 0 and nxt == start and start not in outgoing:
                    break
                current = nxt
                continue
            position[nxt] = len(path)
            path.append(nxt)
            current = nxt
    return loops


def fan_fill(vertices: np.ndarray, loop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((p, 3) float new vertices, (q, 3) int new faces) closing ``loop``; new vertices index on."""
    if len(loop) == 3:
        return np.zeros((0, 3)), loop[::-1][None, :]
    centre = len(vertices)
    nxt = np.roll(loop, -1)
    faces = np.column_stack([nxt, loop, np.full(len(loop), centre)])
    return vertices[loop].mean(axis=0)[None, :], faces


def loop_area(vertices: np.ndarray, loop: np.ndarray) -> float:
    """Area of the fan that would close ``loop`` (its vector area for a planar loop)."""
    points = vertices[loop]
    centre = points.mean(axis=0)
    cross = np.cross(points - centre, np.roll(points, -1, axis=0) - centre)
    return float(np.linalg.norm(cross, axis=1).sum() / 2.0)


def fill_loops(
    vertices: np.ndarray, faces: np.ndarray, loops: list[np.ndarray], max_edges: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Close every loop of at most ``max_edges`` edges: (vertices, faces, loops filled)."""
    new_vertices, new_faces, filled = [vertices], [faces], 0
    count = len(vertices)
    for loop in loops:
        if len(loop) < 3 or (max_edges is not None and len(loop) > max_edges):
            continue
        extra, tri = fan_fill(vertices, loop)
        tri = np.where(tri == len(vertices), count, tri)
        count += len(extra)
        new_vertices.append(extra)
        new_faces.append(tri)
        filled += 1
    return np.vstack(new_vertices), np.vstack(new_faces).astype(np.int64), filled
