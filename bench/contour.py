"""Sprite mesher benchmark: ``python -m bench.contour [sprites dir] [--repeat N]``.

Over the shared sprite corpus, for the default parameters and for the plain baseline
(largest contour -> approxPolyDP(0.01 * perimeter) -> Triangle 'pq'), reports opaque coverage
(share of pixels with alpha >= 128 the mesh covers, supersampled), wasted area (share of mesh
area over alpha-0 pixels), vertex count, min angle and time p50/p95, and for ours the angle the
outline forces (``contour_metrics.forced_min_angle``, with the parameters' ``min_triangle_area``,
computed here off the timed path, island by island: a sprite's is its islands' smallest) with
``min_angle_ok_share``: the share of sprites whose min
angle is >= min(20 degrees, forced), and ``min_angle_shortfall_*``: by how many degrees the others
miss it; ``islands_min_angle_ok_share`` is the same test island by island (each
against the angle its own outline forces; ``_sheets``: over the sprites with more than one island),
since a sheet misses when any of its islands does. ``sliver_share`` is each mesh's share of
triangles under 20 degrees (the min angle is one triangle; this says how many there are).
``triangle_alone`` is the plain library call on the same outline (``triangle_alone``: Triangle's
own 20-degree refinement under the same rules, no angle ladder or ``contour_refine``), so its
angle figures are measured against the same forced angles and differ from ours only by what the
pipeline adds after the outline; ``triangulate_ms`` times that call and our ``triangulate`` on the
same outline.

What the times are, per sprite: ``decode_ms`` is ``load_rgba`` (PNG bytes -> RGBA, libpng through
OpenCV), ``mesh_ms`` is ``mesh_rgba`` (everything after: mask, outline, Triangle, UVs, edges,
metadata, as numpy arrays), ``time_ms`` their sum (what ``mesh_sprite`` costs a job); ``output_ms``
is writing its ``mesh.json`` and ``spine.json`` (``tasks.json_codec``: orjson over the arrays), and
``output_stdlib_ms`` the same with ``tolist`` and ``json.dumps`` (how they were written before
2026-11-24, when ``mesh_rgba`` built the lists itself). Each is the fastest of
``--repeat`` runs (default 5) in wall-clock time (``perf_counter``), so other processes on a
shared machine inflate it less; the runs are passes over the whole corpus (``timing_pass``), not
back to back, so a burst of load on the machine reaches one run of a sprite, not all of them.
Process CPU time (``process_time``) is recorded too. One more run
per sprite is split into stages by its progress reports (``STAGES``): ``stage_*_share`` is each
stage's share of the corpus's mesh time, and ``stage_rest_ms_p95`` the p95 of what is left without
simplification and triangulation (the floor those two stages leave for the p95 target). The start-up
heap, with the compiled kernels loaded, is frozen (``gc.freeze``) before timing, and the C allocator
keeps the pages of large arrays between sprites (``tasks.memory.keep_heap``), as a worker does at
start (tasks/app.py). The
baseline is timed the same way and shares our decode time. ``*_over_10ms`` counts the sprites
over the issue's 10 ms target. Each preset then meshes the corpus once (``presets``: sprites meshed
and failed, how many needed the vertex budget's closing, vertex and waste medians). Writes
bench/results/contour.json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import triangle

from bench.corpus import corpus_files, shared_dir
from pipelines.contour import (
    _hull_first,
    _run_triangle,
    mesh_edges,
    mesh_rgba,
    mesh_sprite,
    outline_pslg,
    sprite_outline,
    triangulate,
)
from pipelines.contour_kernels import group_minima, warm
from pipelines.contour_metrics import coverage_stats, forced_min_angle, outline_loops
from pipelines.contour_params import PRESETS, TOL, ContourParams, make_params
from pipelines.contour_refine import min_angles
from pipelines.contour_rings import Mesh, Ring
from pipelines.errors import PipelineError
from pipelines.graph_components import components
from pipelines.image_io import load_rgba
from pipelines.spine_export import spine_mesh_attachment
from tasks.json_codec import to_json
from tasks.memory import keep_heap

OPAQUE_ALPHA = 128
SAMPLES_BUDGET = 16_000_000   # supersampled points per image for the coverage raster
MAX_SCALE = 4
QUALITY_ANGLE = 20.0          # the refinement target, degrees
ANGLE_SLACK = 1e-3            # metadata angles are rounded to 3 decimals
MID_SIZE = (96, 192)          # "~128 px sprites": longest side in this range
TARGET_MS = 10.0              # the p95 target
RESULTS = Path(__file__).parent / "results" / "contour.json"


def sprites_dir(given: str | None) -> Path:
    """The shared sprite corpus: ``given``, else ``sprites/`` in ``corpus.shared_dir()``."""
    return Path(given) if given else shared_dir() / "sprites"


def timed(run: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """``run()``'s result and its fastest wall-clock and CPU milliseconds over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        out = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return out, min(walls) * 1000, min(cpus) * 1000


def baseline_mesh(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed 002's mesher: largest contour, approxPolyDP(0.01 * perimeter), Triangle 'pq'."""
    mask = ((rgba[..., 3] > 10) * 255).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(contour, 0.01 * cv2.arcLength(contour, True), True).reshape(-1, 2)
    points = approx.astype(float) + 0.5  # pixel centres in the corner convention
    # a self-touching approximation repeats a vertex; Triangle given the repeat crashes or hangs
    # depending on earlier calls, so repeats are merged and their segments shared
    points, index = np.unique(points, axis=0, return_inverse=True)
    index = index.ravel()
    segments = np.unique(np.sort(np.stack([index, np.roll(index, -1)], axis=1), axis=1), axis=0)
    segments = segments[segments[:, 0] != segments[:, 1]]
    result = triangle.triangulate({"vertices": points, "segments": segments}, "pqQ")
    return result["vertices"], result["triangles"]


def measure(vertices: np.ndarray, triangles: np.ndarray, alpha: np.ndarray, seconds: float,
            timings: dict | None = None) -> dict:
    """Coverage, waste, counts and quality of one mesh; ``timings`` adds the time split."""
    h, w = alpha.shape
    scale = max(1, min(MAX_SCALE, int((SAMPLES_BUDGET / (w * h)) ** 0.5)))
    mesh = _hull_first(vertices, triangles)
    loops = mesh.loop_points()
    stats = coverage_stats(loops, alpha, OPAQUE_ALPHA, scale)
    angles = min_angles(mesh.vertices, mesh.triangles)
    return {**stats, "vertices": len(mesh.vertices), "min_angle": float(angles.min()),
            "sliver_share": float(np.mean(angles < QUALITY_ANGLE)), "ms": seconds * 1000, **(timings or {}),
            "size": max(w, h)}


STAGES = {20: "mask", 30: "clean", 40: "trace", 50: "simplify", 70: "triangulate", 85: "uvs", 95: "edges_metadata",
          100: "output"}  # mesh_rgba's progress steps, each the start of a stage that runs to the next


def artifacts(result: dict, write: Callable[[Any], bytes]) -> tuple[bytes, bytes]:
    """``mesh.json`` and ``spine.json`` of one result, as the contour task writes them."""
    return write(result), write(spine_mesh_attachment(result, path="sprite"))


def stdlib_json(value: Any) -> bytes:
    """The comparison for ``to_json``: arrays made lists, then ``json.dumps``."""
    return json.dumps(value, separators=(",", ":"), default=lambda array: array.tolist()).encode()


def stage_ms(rgba: np.ndarray, params: ContourParams) -> dict[str, float]:
    """Milliseconds of each stage of one ``mesh_rgba`` run, from its progress reports (``STAGES``;
    ``triangulate`` includes ``contour_refine``, ``simplify`` the vertex budget's closing)."""
    marks: list[tuple[int, float]] = []
    mesh_rgba(rgba, params, progress=lambda percent, _message: marks.append((percent, time.perf_counter())))
    marks.append((-1, time.perf_counter()))
    return {f"stage_{STAGES[a]}_ms": (t1 - t0) * 1000 for (a, t0), (_, t1) in pairwise(marks) if a in STAGES}


class Sprite(NamedTuple):
    """One sprite's inputs, what ``timing_pass`` runs again, and its three rows of measurements
    (ours, the baseline, Triangle alone on our outline)."""
    data: bytes
    rgba: np.ndarray
    result: dict
    outline: list[Ring]
    ours: dict
    base: dict
    plain: dict


def run_one(path: Path, params: ContourParams) -> Sprite:
    """Every measurement of one sprite, its times from one run each (``timing_pass`` adds runs)."""
    data = path.read_bytes()
    rgba, decode_ms, cpu_decode_ms = timed(lambda: load_rgba(data), 1)
    result, mesh_ms, cpu_mesh_ms = timed(lambda: mesh_rgba(rgba, params), 1)
    alpha = rgba[..., 3]
    timings = {"decode_ms": decode_ms, "mesh_ms": mesh_ms, "cpu_decode_ms": cpu_decode_ms, "cpu_mesh_ms": cpu_mesh_ms}
    _, timings["output_ms"], _ = timed(lambda: artifacts(result, to_json), 1)
    _, timings["output_stdlib_ms"], _ = timed(lambda: artifacts(result, stdlib_json), 1)
    ours = measure(result["vertices"], result["triangles"], alpha, 0.0, timings)
    bounds: dict[bytes, float] = {}
    ours["islands"], ours["islands_ok"] = islands_reaching_target(result, params, bounds)
    # the sprite's bound: no island's mesh beats its own. Tighter than the bound of all rings at once,
    # whose area condition may take another island's vertex as a short segment's apex (the hair
    # sheet: 18.9 against 11.3 degrees); elsewhere they agree to 3e-7 (bisection steps)
    ours["forced_min_angle"] = min(bounds.values())
    ours.update(stage_ms(rgba, params))
    outline = sprite_outline(alpha, params)
    _, ours["triangulate_ms"], _ = timed(lambda: triangulate(outline, params), 1)
    alone, alone_ms, _ = timed(lambda: triangle_alone(outline, params), 1)
    plain = measure(alone.vertices, alone.triangles, alpha, 0.0, {"triangulate_ms": alone_ms})
    plain["forced_min_angle"] = ours["forced_min_angle"]  # the same outline
    plain["islands"], plain["islands_ok"] = islands_reaching_target(
        {"vertices": alone.vertices, "triangles": alone.triangles, "boundary_edges": mesh_edges(alone)[0]}, params,
        bounds)
    (base_v, base_t), base_ms, _ = timed(lambda: baseline_mesh(rgba), 1)
    base = measure(base_v, base_t, alpha, 0.0, {"mesh_ms": base_ms})
    sprite = Sprite(data, rgba, result, outline, ours, base, plain)
    _derived_times(sprite)
    return sprite


def timing_pass(sprite: Sprite, params: ContourParams) -> None:
    """One more run of each timed step of one sprite; each time kept is the fastest so far."""
    def lower(row: dict, wall: str, cpu: str | None, run: Callable[[], Any]) -> None:
        _, wall_ms, cpu_ms = timed(run, 1)
        row[wall] = min(row[wall], wall_ms)
        if cpu:
            row[cpu] = min(row[cpu], cpu_ms)

    ours = sprite.ours
    lower(ours, "decode_ms", "cpu_decode_ms", lambda: load_rgba(sprite.data))
    lower(ours, "mesh_ms", "cpu_mesh_ms", lambda: mesh_rgba(sprite.rgba, params))
    lower(ours, "output_ms", None, lambda: artifacts(sprite.result, to_json))
    lower(ours, "output_stdlib_ms", None, lambda: artifacts(sprite.result, stdlib_json))
    lower(ours, "triangulate_ms", None, lambda: triangulate(sprite.outline, params))
    lower(sprite.plain, "triangulate_ms", None, lambda: triangle_alone(sprite.outline, params))
    lower(sprite.base, "mesh_ms", None, lambda: baseline_mesh(sprite.rgba))
    _derived_times(sprite)


def _derived_times(sprite: Sprite) -> None:
    """The sums: ``ms`` (decode + mesh: what ``mesh_sprite`` costs), ``cpu_ms``; the baseline shares
    our decode."""
    ours, base = sprite.ours, sprite.base
    ours["ms"] = ours["decode_ms"] + ours["mesh_ms"]
    ours["cpu_ms"] = ours["cpu_decode_ms"] + ours["cpu_mesh_ms"]
    base["decode_ms"] = ours["decode_ms"]
    base["ms"] = base["decode_ms"] + base["mesh_ms"]


def triangle_alone(outline: list[Ring], params: ContourParams) -> Mesh:
    """The plain library call on our outline: Triangle's quality refinement at 20 degrees under the
    pipeline's rules (no Steiner points on the outline, the same Steiner budget; no area cap, as
    ``internal_vertex_density`` is 0 by default). This is ``triangulate``'s first rung (the same
    ``_run_triangle`` call), without the angle ladder and ``contour_refine``, so the two differ by
    exactly what those add."""
    vertices, segments, holes = outline_pslg(outline)
    budget = max(params.max_vertices - len(vertices), 0)
    result = _run_triangle(vertices, segments, holes, TOL.min_angle_deg, None, budget)
    return _hull_first(result["vertices"], result["triangles"])


def islands_reaching_target(result: dict, params: ContourParams,
                            bounds: dict[bytes, float] | None = None) -> tuple[int, int]:
    """(islands, islands whose smallest angle reaches min(20, the angle their own outline forces)):
    a sheet's smallest angle is one island's, and it misses when any does; this counts them.
    ``bounds``: each island's forced angle by ``_island_key``, filled as they are computed (two
    meshes of one outline share them: the bound is the outline's, and the costliest step here)."""
    vertices, tris = np.asarray(result["vertices"], dtype=float), np.asarray(result["triangles"])
    part = components(len(vertices), tris.ravel(), np.roll(tris, 1, axis=1).ravel())
    worst = group_minima(part[tris[:, 0]], min_angles(vertices, tris), int(part.max()) + 1)
    rings: dict[int, list[np.ndarray]] = {}
    for loop in outline_loops(result):
        rings.setdefault(int(part[loop[0]]), []).append(vertices[loop])
    bounds = {} if bounds is None else bounds
    ok = 0
    for k, island in rings.items():
        key = _island_key(island)
        if key not in bounds:
            bounds[key] = forced_min_angle(island, split_outline=params.outline_steiner,
                                           min_area=params.min_triangle_area)
        ok += worst[k] >= min(QUALITY_ANGLE, bounds[key]) - ANGLE_SLACK
    return len(rings), int(ok)


def _island_key(rings: list[np.ndarray]) -> bytes:
    """An island's outline points, sorted and rounded to 0.01 px: the same for two meshes of one
    outline whatever their loop order, start and output rounding (a point on a rounding edge only
    costs a second computation)."""
    points = np.round(np.concatenate(rings), 2) + 0.0  # + 0.0: no -0.0
    return points[np.lexsort(points.T[::-1])].tobytes()


def summarise(rows: list[dict]) -> dict:
    """Percentiles over the corpus."""
    col = {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}
    mid = col["vertices"][(col["size"] >= MID_SIZE[0]) & (col["size"] <= MID_SIZE[1])]
    times = {}
    for key, name in (("ms", "time_ms"), ("decode_ms", "decode_ms"), ("mesh_ms", "mesh_ms"),
                      ("triangulate_ms", "triangulate_ms"),
                      ("output_ms", "output_ms"), ("output_stdlib_ms", "output_stdlib_ms"),
                      ("cpu_ms", "cpu_ms"), ("cpu_mesh_ms", "cpu_mesh_ms")):
        if key in col:
            times[f"{name}_p50"] = float(np.percentile(col[key], 50))
            times[f"{name}_p95"] = float(np.percentile(col[key], 95))
            if not key.startswith("cpu"):
                times[f"{name}_over_10ms"] = int((col[key] > TARGET_MS).sum())
    stages = {}
    if "stage_simplify_ms" in col:
        total = sum(v for k, v in col.items() if k.startswith("stage_"))
        stages = {f"{k[:-3]}_share": float(v.sum() / total.sum()) for k, v in col.items() if k.startswith("stage_")}
        rest = total - col["stage_simplify_ms"] - col["stage_triangulate_ms"]
        stages["stage_rest_ms_p95"] = float(np.percentile(rest, 95))  # what p95 would be with both free
    return {
        "opaque_coverage_p10": float(np.percentile(col["opaque_coverage"], 10)),
        "opaque_coverage_median": float(np.median(col["opaque_coverage"])),
        "opaque_coverage_min": float(col["opaque_coverage"].min()),
        "wasted_area_median": float(np.median(col["wasted_area"])),
        "wasted_area_p90": float(np.percentile(col["wasted_area"], 90)),
        "vertices_median": float(np.median(col["vertices"])),
        "vertices_median_128px": float(np.median(mid)) if len(mid) else None,
        "sprites_128px": len(mid),
        "min_angle_median": float(np.median(col["min_angle"])),
        "sliver_share_median": float(np.median(col["sliver_share"])),
        "sliver_share_p90": float(np.percentile(col["sliver_share"], 90)),
        "min_angle_p10": float(np.percentile(col["min_angle"], 10)),
        **(_forced_figures(col) if "forced_min_angle" in col else {}),
        **times,
        **stages,
    }


def _forced_figures(col: dict) -> dict:
    """The forced angle's median and p10, the share of sprites reaching min(20, forced), and how far
    the others fall short of it (degrees; mean and p90 over all sprites, 0 where reached): the share
    moves one sprite at a time, the shortfall with every degree gained or lost. Then the share of
    islands reaching their own target, over all sprites and over the sheets."""
    target = np.minimum(QUALITY_ANGLE, col["forced_min_angle"])
    sheets = col["islands"] > 1
    short = np.maximum(target - col["min_angle"], 0.0)
    return {"forced_min_angle_median": float(np.median(col["forced_min_angle"])),
            "forced_min_angle_p10": float(np.percentile(col["forced_min_angle"], 10)),
            "min_angle_ok_share": float(np.mean(col["min_angle"] >= target - ANGLE_SLACK)),
            "min_angle_shortfall_mean": float(short.mean()),
            "min_angle_shortfall_p90": float(np.percentile(short, 90)),
            "islands_min_angle_ok_share": float(col["islands_ok"].sum() / col["islands"].sum()),
            "islands_min_angle_ok_share_sheets": float(col["islands_ok"][sheets].sum() / col["islands"][sheets].sum())}


def run_presets(images: list[np.ndarray]) -> dict:
    """Each preset over the decoded corpus, one run per sprite: how many mesh and how many fail (by
    code), how many needed the budget's closing or box (``metadata.budget_closing_px``), and the medians."""
    out = {}
    for name in sorted(PRESETS):
        params = make_params({}, name)
        rows, failed, closed, walls = [], {}, 0, []
        for rgba in images:
            start = time.perf_counter()
            try:
                result = mesh_rgba(rgba, params)
            except PipelineError as exc:
                failed[exc.code] = failed.get(exc.code, 0) + 1
                continue
            walls.append(time.perf_counter() - start)
            closed += result["metadata"]["budget_closing_px"] != 0  # None: the box
            rows.append(measure(np.array(result["vertices"]), np.array(result["triangles"]), rgba[..., 3], 0.0))
        col = {k: np.array([r[k] for r in rows], dtype=float) for k in ("vertices", "wasted_area", "opaque_coverage")}
        out[name] = {"meshed": len(rows), "failed": failed, "budget_closed": closed,
                     "vertices_median": float(np.median(col["vertices"])),
                     "wasted_area_median": float(np.median(col["wasted_area"])),
                     "opaque_coverage_p10": float(np.percentile(col["opaque_coverage"], 10)),
                     "mesh_ms_p50": 1000 * float(np.percentile(walls, 50)),
                     "mesh_ms_max": 1000 * float(max(walls))}
    return out


def run_split_outline(images: list[np.ndarray]) -> dict:
    """The defaults with ``outline_steiner`` on (refinement may split outline segments), one run per
    sprite: how many reach min(20, what their outline forces when split: its corners and
    ``min_triangle_area``, ``forced_min_angle(split_outline=True)`` on the outline before splitting),
    the min angle and vertex medians (the hull grows by the split points)."""
    params = make_params({"outline_steiner": True})
    ok, angles, vertices, hull, walls = 0, [], [], [], []
    for rgba in images:
        start = time.perf_counter()
        try:
            result = mesh_rgba(rgba, params)
        except PipelineError:
            continue
        walls.append(time.perf_counter() - start)
        rings = [ring.points for ring in sprite_outline(rgba[..., 3], params)]
        target = min(QUALITY_ANGLE, forced_min_angle(rings, split_outline=True, min_area=params.min_triangle_area))
        angles.append(result["metadata"]["min_angle_deg"])
        ok += angles[-1] >= target - ANGLE_SLACK
        vertices.append(len(result["vertices"]))
        hull.append(result["hull"])
    return {"meshed": len(angles), "min_angle_ok": int(ok), "min_angle_ok_share": ok / max(len(angles), 1),
            "min_angle_median": float(np.median(angles)), "vertices_median": float(np.median(vertices)),
            "hull_vertices_median": float(np.median(hull)), "mesh_ms_p50": 1000 * float(np.percentile(walls, 50)),
            "mesh_ms_max": 1000 * float(max(walls))}


def main() -> None:
    """Run both meshers over the corpus, write the JSON and print a table."""
    parser = argparse.ArgumentParser(description="Sprite mesher benchmark over the shared corpus.")
    parser.add_argument("sprites", nargs="?", help="folder of PNG sprites (default: the shared corpus)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per sprite; the fastest is kept")
    args = parser.parse_args()
    folder = sprites_dir(args.sprites)
    paths = corpus_files(folder, "*.png")
    params = ContourParams()
    sprites, images, errors = [], [], {}
    mesh_sprite(paths[0].read_bytes(), params)  # warm imports and caches once
    warm()  # every compiled kernel, as a contour worker loads them at start
    gc.freeze()  # then freeze, as the worker does before its pool forks (tasks/app.py)
    keep_heap()  # and keep the allocator's pages between sprites, as the worker does (tasks/memory.py)
    for path in paths:
        try:
            sprites.append((path.name, run_one(path, params)))
        except PipelineError as exc:
            errors[path.name] = exc.as_dict()
            with contextlib.suppress(PipelineError):  # the presets still try a sprite that decodes
                images.append(load_rgba(path.read_bytes()))
            continue
        images.append(sprites[-1][1].rgba)
    for _ in range(args.repeat - 1):
        for _, sprite in sprites:
            timing_pass(sprite, params)
    per_sprite = [{"name": name, "ours": s.ours, "baseline": s.base, "triangle_alone": s.plain} for name, s in sprites]
    summary = {"defaults": summarise([s.ours for _, s in sprites]), "baseline": summarise([s.base for _, s in sprites]),
               "triangle_alone": {k: v for k, v in summarise([s.plain for _, s in sprites]).items()
                                  if not k.startswith("time_ms")}}
    presets = run_presets(images)
    split = run_split_outline(images)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    timing = {"repeat": args.repeat, "decode_ms": "load_rgba: PNG bytes -> RGBA", "mesh_ms": "mesh_rgba",
              "output_ms": "mesh.json and spine.json bytes (tasks.json_codec)",
              "output_stdlib_ms": "the same with tolist and json.dumps",
              "time_ms": "decode_ms + mesh_ms (mesh_sprite)",
              "kept": f"fastest of {args.repeat} wall-clock runs, each run a pass over the corpus"}
    RESULTS.write_text(json.dumps({"corpus": str(folder), "count": len(paths), "params": params.as_dict(),
                                   "timing": timing, "summary": summary, "presets": presets, "outline_steiner": split,
                                   "errors": errors, "sprites": per_sprite}, indent=1))
    print(f"{len(paths)} sprites from {folder}; {len(errors)} refused: {sorted(errors)}")
    print(f"times: fastest of {args.repeat} runs per sprite; decode = load_rgba (PNG -> RGBA), "
          "mesh = mesh_rgba, time = decode + mesh")
    print(f"{'metric':28}{'defaults':>12}{'baseline':>12}{'triangle':>12}")
    for key in summary["defaults"]:
        a, b, c = (summary[col].get(key) for col in ("defaults", "baseline", "triangle_alone"))
        print(f"{key:28}{_fmt(a):>12}{_fmt(b):>12}{_fmt(c):>12}")
    print("presets (one run per sprite):")
    for name, row in presets.items():
        print(f"  {name:14}" + "  ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in row.items()))
    print("outline_steiner (one run per sprite): " + "  ".join(f"{k}={_fmt(v)}" for k, v in split.items()))
    print(f"wrote {RESULTS}")


def _fmt(value: float | None) -> str:
    """Four significant figures, or '-'."""
    return "-" if value is None else f"{value:.4g}"


if __name__ == "__main__":
    main()
