"""Random valid parameters on the sprite mesher: ``python -m bench.contour_fuzz [sprites dir]
[--seconds N] [--seed S]``.

Draws parameter sets over every range, switch and preset (``random_values``) and meshes a corpus
sprite with each, for ``--seconds``. Each draw must mesh with the result's promises kept
(``broken_promises``: indices, every vertex used, no flat triangle, the vertex budget, no triangle
with an interior vertex under ``min_triangle_area``, UVs in [0, 1]) or fail with an ``InputError``
code; anything else (another exception, a broken promise, a call over ``--slow`` seconds) is a
finding. Prints each finding with its parameters as it comes, then the counts, and writes
bench/results/contour_fuzz.json. Five minutes of it over the corpus found the density slivers of
2026-11-25 (130 meshes with a triangle under ``min_triangle_area``)."""

from __future__ import annotations

import argparse
import json
import math
import random
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

from bench.contour import sprites_dir
from bench.corpus import corpus_files
from pipelines.contour import mesh_rgba
from pipelines.contour_params import PRESETS, RANGES, ContourParams, make_params
from pipelines.contour_refine import triangle_areas
from pipelines.errors import InputError
from pipelines.image_io import load_rgba

SPREAD = {"detail_factor", "min_contour_area", "density_scaling_factor", "min_triangle_area", "max_vertices"}
WHOLE = {"alpha_threshold", "internal_vertex_density", "blur_kernel_size", "binary_threshold", "padding_px",
         "max_vertices"}
OUT = Path(__file__).parent / "results" / "contour_fuzz.json"
FLAT_AREA = 1e-9  # px^2: a triangle this small is degenerate (the density slivers read 0 once rounded)


def random_values(rng: random.Random) -> dict:
    """About half the parameters, each anywhere in its range (those spanning decades log-uniformly),
    some switches, and sometimes a preset under them."""
    values: dict = {}
    for name, (low, high) in RANGES.items():
        if rng.random() < 0.5:
            continue
        value = (math.exp(rng.uniform(math.log(max(low, 1e-3)), math.log(high))) if name in SPREAD
                 else rng.uniform(low, high))
        values[name] = round(value) if name in WHOLE else value
    for switch in ("all_islands", "holes", "outline_steiner"):
        if rng.random() < 0.3:
            values[switch] = rng.random() < 0.5
    if rng.random() < 0.3:
        values["preset"] = rng.choice(sorted(PRESETS))
    return values


def broken_promises(result: dict, params: ContourParams) -> list[str]:
    """What a ``mesh_rgba`` result breaks of its promises (none: empty). Areas allow for the
    result's 4-decimal rounding."""
    vertices, tris = np.asarray(result["vertices"], dtype=float), np.asarray(result["triangles"])
    broken = []
    if len(vertices) > params.max_vertices:
        broken.append(f"{len(vertices)} vertices over max_vertices {params.max_vertices}")
    if not len(tris) or tris.min() < 0 or tris.max() >= len(vertices) or len(np.unique(tris)) != len(vertices):
        return [*broken, "triangle indices out of range or vertices unused"]
    areas = triangle_areas(vertices, tris)
    if (flat := areas <= FLAT_AREA).any():
        broken.append(f"{int(flat.sum())} flat triangles (area at most {FLAT_AREA:g} px^2)")
    small = (tris >= result["hull"]).any(axis=1) & (areas < params.min_triangle_area * (1 - 1e-4) - 1e-3)
    if small.any():
        broken.append(f"{int(small.sum())} interior triangles under min_triangle_area, "
                      f"the smallest {areas[small].min():.4g} px^2")
    uvs = np.asarray(result["uvs"])
    if not np.isfinite(uvs).all() or uvs.min() < 0 or uvs.max() > 1:
        broken.append("uvs outside [0, 1]")
    return broken


def fuzz(images: list[tuple[str, np.ndarray]], seconds: float, seed: int, slow: float) -> dict:
    """Draws until ``seconds`` pass: the runs, the error codes met and the findings."""
    rng = random.Random(seed)
    codes: Counter = Counter()
    findings, runs, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        name, rgba = rng.choice(images)
        values = random_values(rng)
        params, runs = make_params(values), runs + 1
        start = time.perf_counter()
        try:
            broken = broken_promises(mesh_rgba(rgba, params), params)
        except InputError as exc:  # a budget under 4 cannot always hold the box around the mask
            codes[exc.code + (" (max_vertices < 4)" if params.max_vertices < 4 else "")] += 1
            continue
        except Exception:
            broken = [traceback.format_exc(limit=3)]
        if (took := time.perf_counter() - start) > slow:
            broken.append(f"took {took:.1f} s")
        if broken:
            findings.append({"sprite": name, "params": values, "broken": broken})
            print(name, json.dumps(values), broken, flush=True)
    return {"seed": seed, "seconds": seconds, "runs": runs, "input_errors": dict(codes), "findings": findings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sprites", nargs="?")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds over which a call is a finding")
    args = parser.parse_args()
    images = [(path.name, load_rgba(path.read_bytes())) for path in corpus_files(sprites_dir(args.sprites), "*.png")]
    report = fuzz(images, args.seconds, args.seed, args.slow)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{report['runs']} runs, input errors {report['input_errors']}, {len(report['findings'])} findings; "
          f"wrote {OUT}")


if __name__ == "__main__":
    main()
