"""Why sprites miss the angle target: ``python -m bench.contour_angle_causes [sprites dir]``.

For every corpus sprite whose mesh (default parameters) has a smallest angle under
min(20, ``forced_min_angle``; its islands' smallest, as ``bench.contour`` takes it), re-runs the
triangulation of the same outline with one limit lifted at a time and reports which one, lifted,
makes it pass:

- (a) budget: ``max_vertices`` at its maximum (``internal_vertex_density`` is 0 by default, so no
  area cap applies);
- (b) ``min_triangle_area`` 1e-6 instead of its default;
- (c) ``contour_refine.MAX_BAD`` and ``MAX_BAD_TOTAL`` unlimited (refinement no longer skipped on
  islands or meshes with many bad triangles);
- (d) the bound: passes against ``forced_min_angle`` (with ``min_triangle_area``) but not against
  the bound without its pairs, shadow, strips and area conditions (the clearance-only bound claimed angles
  no mesh reaches);
- (e) none of these: Triangle's 'YY' refinement and ``contour_refine`` stop short.

Also reports the worst triangle's kind (outline vertices / outline segments it has, and whether
one of its outline vertices joins segments more than 4x different in length). Off the timed path;
prints a table and the counts.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from bench.contour import ANGLE_SLACK, QUALITY_ANGLE, sprites_dir
from bench.corpus import corpus_files
from pipelines import contour, contour_refine
from pipelines.contour import sprite_outline, triangulate
from pipelines.contour_metrics import forced_min_angle
from pipelines.contour_params import RANGES, ContourParams
from pipelines.contour_refine import min_angles
from pipelines.contour_rings import Ring
from pipelines.errors import PipelineError
from pipelines.image_io import load_rgba

SHORT_RATIO = 4.0


def smallest(outline: list, params: ContourParams, max_bad: int | None = None) -> float:
    """Smallest angle of ``triangulate(outline, params)``, with ``MAX_BAD`` and ``MAX_BAD_TOTAL``
    replaced if given."""
    saved = contour_refine.MAX_BAD, contour_refine.MAX_BAD_TOTAL, contour.MAX_BAD
    if max_bad is not None:
        contour_refine.MAX_BAD = contour_refine.MAX_BAD_TOTAL = contour.MAX_BAD = max_bad
    try:
        mesh = triangulate(outline, params)
    finally:
        contour_refine.MAX_BAD, contour_refine.MAX_BAD_TOTAL, contour.MAX_BAD = saved
    return float(min_angles(mesh.vertices, mesh.triangles).min())


def worst_kind(outline: list, params: ContourParams) -> str:
    """'<outline vertices>v<outline segments>s[/short]' of the mesh's worst triangle."""
    mesh = triangulate(outline, params)
    sizes = [len(r.points) for r in outline]
    n = sum(sizes)
    if len(mesh.vertices) < n or not np.array_equal(mesh.vertices[:n], np.concatenate([r.points for r in outline])):
        return "?"
    tri = mesh.triangles[int(np.argmin(min_angles(mesh.vertices, mesh.triangles)))]
    starts = np.cumsum([0, *sizes])
    ring = np.searchsorted(starts, np.arange(n), side="right") - 1
    nxt = np.where(np.arange(n) + 1 == starts[ring + 1], starts[ring], np.arange(n) + 1)
    prv = np.empty(n, dtype=np.int64)
    prv[nxt] = np.arange(n)
    fixed = [int(v) for v in tri if v < n]
    edges = [(int(a), int(b)) for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))]
    segs = sum(a < n and b < n and (nxt[a] == b or nxt[b] == a) for a, b in edges)
    pts = mesh.vertices
    short = any(max(ratio := (np.linalg.norm(pts[nxt[v]] - pts[v]), np.linalg.norm(pts[v] - pts[prv[v]]))) /
                max(min(ratio), 1e-12) > SHORT_RATIO for v in fixed)
    return f"{len(fixed)}v{segs}s" + ("/short" if short else "")


def main() -> None:
    parser = argparse.ArgumentParser(description="Causes of missed angle targets over the sprite corpus.")
    parser.add_argument("sprites", nargs="?", help="folder of PNG sprites (default: the shared corpus)")
    args = parser.parse_args()
    params = ContourParams()
    causes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    total = 0
    print(f"{'sprite':44}{'angle':>7}{'target':>7}{'old':>7}  cause  worst triangle")
    for path in corpus_files(sprites_dir(args.sprites), "*.png"):
        try:
            outline = sprite_outline(load_rgba(path.read_bytes())[..., 3], params)
        except PipelineError:
            continue
        total += 1
        target = min(QUALITY_ANGLE, islands_bound(outline, min_area=params.min_triangle_area)) - ANGLE_SLACK
        old = min(QUALITY_ANGLE, islands_bound(outline, pairs=False)) - ANGLE_SLACK
        angle = smallest(outline, params)
        if angle >= target:
            if angle < old:
                causes["d"] += 1
                print(f"{path.name[:44]:44}{angle:7.2f}{target:7.2f}{old:7.2f}  d      (passes with the later ones)")
            continue
        if smallest(outline, replace(params, max_vertices=int(RANGES["max_vertices"][1]))) >= target:
            cause = "a"
        elif smallest(outline, replace(params, min_triangle_area=1e-6)) >= target:
            cause = "b"
        elif smallest(outline, params, max_bad=math.inf) >= target:
            cause = "c"
        else:
            cause = "e"
        causes[cause] += 1
        kind = worst_kind(outline, params)
        kinds[kind] += 1
        print(f"{path.name[:44]:44}{angle:7.2f}{target:7.2f}{old:7.2f}  {cause}      {kind}")
    print(f"{total} sprites; causes: {dict(sorted(causes.items()))}; worst triangles of the failing: "
          f"{dict(kinds.most_common())}")


def islands_bound(outline: list[Ring], **conditions: Any) -> float:
    """The smallest of the islands' own ``forced_min_angle`` (as ``bench.contour`` bounds a sprite)."""
    rings: dict[int, list[np.ndarray]] = {}
    for ring in outline:
        rings.setdefault(ring.island, []).append(ring.points)
    return min(forced_min_angle(island, **conditions) for island in rings.values())


if __name__ == "__main__":
    main()
