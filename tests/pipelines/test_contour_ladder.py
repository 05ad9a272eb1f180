"""The angle ladder's early stop and the hole points of ``pipelines.contour.triangulate``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipelines import contour
from pipelines.contour import _hole_points, _ring_segments, sprite_outline, triangulate
from pipelines.contour_params import TOL, ContourParams
from pipelines.contour_rings import Ring
from tests.pipelines.test_contour_refine import holes_sprite, long_short_sprite, sliver_sprite

WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def sheet_sprite(n: int = 6, cell: int = 40) -> np.ndarray:
    """A sheet of slivers, thin ellipses and framed slots: many triangles Triangle leaves under 20
    degrees next to the outline (more than refinement takes on), as on the corpus's large sheets."""
    img = np.zeros((n * cell, n * cell, 4), np.uint8)
    for i in range(n):
        for j in range(n):
            x, y = j * cell, i * cell
            kind = (i * n + j) % 3
            if kind == 0:
                pts = [[x + 3, y + 20], [x + 37, y + 14 + i % 3], [x + 37, y + 26]]
                cv2.fillPoly(img, [np.array(pts, np.int32)], WHITE)
            elif kind == 1:
                cv2.ellipse(img, (x + 20, y + 20), (17, 5 + j % 3), 15 * i, 0, 360, WHITE, -1)
            else:
                cv2.rectangle(img, (x + 4, y + 4), (x + 35, y + 35), WHITE, -1)
                cv2.rectangle(img, (x + 10, y + 15), (x + 30 - i, y + 18), CLEAR, -1)
    return img


def rungs_run(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The angles of the Triangle ladder calls ``triangulate`` makes from now on."""
    calls: list[float] = []
    run = contour._run_triangle

    def counting(*args, **kwargs):
        calls.append(args[3])
        return run(*args, **kwargs)

    monkeypatch.setattr(contour, "_run_triangle", counting)
    return calls


SPRITES = {"sheet6": lambda: sheet_sprite(6), "sheet5": lambda: sheet_sprite(5, 48), "sliver": sliver_sprite,
           "long_short": long_short_sprite, "holes": holes_sprite}


@pytest.mark.parametrize("name", list(SPRITES))
def test_ladder_stop_gives_the_full_ladder_mesh(name, monkeypatch):
    params = ContourParams()
    outline = sprite_outline(SPRITES[name]()[..., 3], params)
    calls = rungs_run(monkeypatch)
    direct = triangulate(outline, params)
    stopped = list(calls)
    calls.clear()
    monkeypatch.setattr(contour, "_outline_bound", lambda *args: False)
    full = triangulate(outline, params)
    assert np.array_equal(direct.vertices, full.vertices)
    assert np.array_equal(direct.triangles, full.triangles)
    assert all(np.array_equal(a, b) for a, b in zip(direct.loops, full.loops, strict=True))
    if name.startswith("sheet"):  # the stop fired: one Triangle call instead of two
        assert stopped == [TOL.angle_ladder[0]] and calls == list(TOL.angle_ladder[:2])
    else:
        assert stopped == calls


def dense_hole_points(vertices: np.ndarray, segments: np.ndarray, outline: list[Ring]) -> np.ndarray:
    """The hole points by the plain rule: every segment against every hole's box."""
    sizes = [len(r.points) for r in outline]
    starts = np.cumsum([0, *sizes])
    a, b = vertices[segments[:, 0]], vertices[segments[:, 1]]
    out = []
    for h, ring in enumerate(outline):
        if not ring.is_hole:
            continue
        own = np.arange(starts[h], starts[h + 1])
        longest = own[int(np.argmax(np.hypot(*(b[own] - a[own]).T)))]
        d = b[longest] - a[longest]
        origin = (a[longest] + b[longest]) / 2
        ray = np.array([d[1], -d[0]]) / np.hypot(*d)
        lo, hi = ring.points.min(0) - TOL.geom_eps, ring.points.max(0) + TOL.geom_eps
        first = np.inf
        for s in range(len(segments)):
            if s == longest or (np.minimum(a[s], b[s]) > hi).any() or (np.maximum(a[s], b[s]) < lo).any():
                continue
            e, rel = b[s] - a[s], a[s] - origin
            den = ray[0] * e[1] - ray[1] * e[0]
            if abs(den) <= 1e-12:
                continue
            t = (rel[0] * e[1] - rel[1] * e[0]) / den
            u = (rel[0] * ray[1] - rel[1] * ray[0]) / den
            if t > TOL.geom_eps and 0 <= u <= 1:
                first = min(first, t)
        out.append(origin + ray * first / 2)
    return np.array(out)


@pytest.mark.parametrize("name", ["sheet6", "holes"])
def test_hole_points_match_the_dense_rule(name):
    outline = sprite_outline(SPRITES[name]()[..., 3], ContourParams())
    assert any(r.is_hole for r in outline)
    vertices = np.concatenate([r.points for r in outline])
    segments = _ring_segments([len(r.points) for r in outline])
    assert np.allclose(_hole_points(vertices, segments, outline), dense_hole_points(vertices, segments, outline),
                       rtol=0, atol=1e-9)
