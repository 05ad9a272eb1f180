"""Benchmark: Meshmill's ``repair_mesh`` against plain ``pymeshfix.MeshFix(v, f).repair()``.

Run from the repository root::

    python -m bench.mesh_repair [--limit N] [--only TEXT] [--timeout S] [--workers 2]

Every mesh listed in ``<shared>/meshes/MANIFEST.csv`` (``<shared>`` is ``$MESHMILL_SHARED_DIR`` or
``../shared`` next to the repository) is loaded and repaired by both tools in one child process
per mesh (at most ``--workers`` at a time), killed after ``--timeout`` seconds; whatever finished
before is kept and the rest is recorded as a timeout.
The parent runs both tools once on a small box before forking (as a prefork worker would be
warm), so the timed calls carry no first-call costs for either tool.

Two splits of the loaded meshes into broken and clean are recorded and summarised:

- ``issue`` (``issue_clean``), the issue's own: the file read as seed 000 reads it,
  ``trimesh.load(path, force="mesh")`` with trimesh's default processing (vertices merged by
  position *and* UV/normal, so texture and normal seams stay split), and *broken* when that mesh
  is not ``is_watertight``. This reproduces the issue's figures exactly: 114 broken / 172 clean
  of the 286 meshes it counted (288 load; the two ``Generic_Twin_7081`` OBJs are the ones whose
  pymeshfix run outlives the 240 s child, which the issue took for loading), and plain pymeshfix
  on those meshes making 70 of the 114 watertight, 24 of them with coverage >= 0.99. The issue's
  "changes 60 of 172 (multi-shell parts lose shells)" is 59 here by lost shells
  (``clean_lost_shells``), 71 by this bench's stricter ``changed``.
- ``meshmill`` (``clean``): Meshmill's own reading, every shell watertight and
  winding-consistent after ``load_mesh`` (which welds seams). It differs from the issue's on 31
  meshes: 26 the issue calls broken are closed solids whose only defect is in trimesh's default
  reading: UV or normal seams (textured boxes, ``fuze.obj``, ``ico4.obj``,
  ``negative_indices.obj``...) and ``Cray_right.obj``, whose float32-max coordinates overflow
  trimesh's merge into two vertices; Meshmill's loader welds them and returns them unchanged. 5
  the issue calls clean are watertight but wound inconsistently (three of ``non_manifold/``,
  ``multibody.stl``) or, welded, glue two bodies along edges (``boolean.glb``); Meshmill repairs
  them, so under the issue's split they count as clean inputs changed. Self-intersections are in
  neither split: a closed, consistent shell that crosses itself is clean
  (``remove_self_intersections`` is the opt-in).

Each tool is fed its own reading: Meshmill ``load_mesh``'s mesh, pymeshfix the issue's (seed
000's) mesh. For each tool: watertight (a non-empty result whose every edge has two faces; an
empty result is not watertight), coverage of the original surface, volume change, wall time, and
for clean inputs whether the result changed beyond tolerance (not identical and either coverage
in either direction < ``CHANGE_COVERAGE``, a volume change over ``CHANGE_VOLUME_PERCENT``, or
another shell count) and whether it lost shells. Writes ``bench/results/mesh_repair.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import statistics
import time
from pathlib import Path
from typing import Any

from bench.corpus import corpus_files, shared_dir

CHANGE_COVERAGE = 0.999
CHANGE_VOLUME_PERCENT = 0.1
GOOD_COVERAGE = 0.99
SLOW_S = 30.0
RESULTS = Path(__file__).parent / "results" / "mesh_repair.json"



def mesh_paths(root: Path) -> list[str]:
    """Relative paths of the mesh files in MANIFEST.csv (non-mesh files skipped)."""
    skip = {".md", ".json", ".mtl", ".txt", ".png", ".jpg", ".jpeg"}
    with open(root / "MANIFEST.csv", newline="") as handle:
        rows = [row["local_path"] for row in csv.DictReader(handle)]
    return [path for path in rows if Path(path).suffix.lower() not in skip]


def _measure(original: Any, repaired: Any, seconds: float, units_stats: dict[str, Any]) -> dict[str, Any]:
    """Figures of one tool's result against the original."""
    from pipelines.mesh_analysis import analyze_mesh
    from pipelines.mesh_coverage import surface_coverage

    after = analyze_mesh(repaired)
    before_volume = units_stats["volume"]
    change = 100.0 * (after["volume"] - before_volume) / abs(before_volume) if abs(before_volume) > 1e-12 else 0.0
    identical = (repaired.vertices.shape == original.vertices.shape and repaired.faces.shape == original.faces.shape
                 and (repaired.vertices == original.vertices).all() and (repaired.faces == original.faces).all())
    forward = surface_coverage(original, repaired)
    row = {"seconds": round(seconds, 6), "watertight": bool(after["is_watertight"]) and len(repaired.faces) > 0,
           "coverage": round(forward, 4), "volume_change_percent": round(change, 3),
           "identical": bool(identical), "shells": after["shells"], "faces": after["faces"]}
    row["lost_shells"] = after["shells"] < units_stats["shells"]
    if identical:
        row["changed"] = False
    else:
        backward = surface_coverage(repaired, original) if len(repaired.faces) else 0.0
        row["changed"] = bool(min(forward, backward) < CHANGE_COVERAGE or abs(change) > CHANGE_VOLUME_PERCENT
                              or after["shells"] != units_stats["shells"])
    return row


def _issue_reading(data: bytes, fmt: str) -> Any:
    """The mesh as seed 000 (and the issue's figures) read it: trimesh's default load; None if it fails."""
    import io

    import trimesh

    try:
        mesh = trimesh.load(io.BytesIO(data), file_type=fmt, force="mesh")
    except Exception:  # any parser failure means "not loadable" here
        return None
    return mesh if isinstance(mesh, trimesh.Trimesh) and len(mesh.faces) else None


def _run_one(path: str, root: str, queue: Any) -> None:
    """Child process: load, repair with both tools, put partial rows on ``queue`` as they finish."""
    import numpy as np
    import pymeshfix
    import trimesh

    from pipelines.errors import PipelineError
    from pipelines.mesh_analysis import analyze_mesh
    from pipelines.mesh_io import load_mesh
    from pipelines.mesh_repair import repair_mesh
    from pipelines.mesh_shells import is_clean

    start = time.perf_counter()
    data, fmt = Path(root, path).read_bytes(), Path(path).suffix.lstrip(".").lower() or None
    try:
        mesh = load_mesh(data, fmt)
    except PipelineError as exc:
        queue.put({"load_error": exc.code})
        return
    stats = analyze_mesh(mesh)
    load_s = round(time.perf_counter() - start, 3)
    seed = _issue_reading(data, fmt or "stl")
    queue.put({"faces": len(mesh.faces), "clean": is_clean(mesh), "load_s": load_s,
               "issue_clean": None if seed is None else bool(seed.is_watertight)})
    start = time.perf_counter()
    try:
        result = repair_mesh(mesh)
        queue.put({"meshmill": _measure(mesh, result.mesh, time.perf_counter() - start, stats)})
    except PipelineError as exc:
        queue.put({"meshmill": {"error": exc.code, "seconds": round(time.perf_counter() - start, 6)}})
    if seed is None:
        seed, seed_stats = mesh, stats
    else:
        seed_stats = analyze_mesh(seed)
    start = time.perf_counter()
    fixer = pymeshfix.MeshFix(np.asarray(seed.vertices, dtype=np.float64), np.asarray(seed.faces, dtype=np.int32))
    fixer.repair()
    seconds = time.perf_counter() - start
    fixed = trimesh.Trimesh(np.asarray(fixer.points), np.asarray(fixer.faces), process=False)
    queue.put({"pymeshfix": _measure(seed, fixed, seconds, seed_stats)})


def _collect(queue: Any, row: dict[str, Any]) -> None:
    while not queue.empty():
        row.update(queue.get_nowait())


def run_all(paths: list[str], root: Path, timeout: float, workers: int) -> list[dict[str, Any]]:
    """Run every mesh in a child process, ``workers`` at a time, each killed after ``timeout`` s."""
    context = mp.get_context("fork")
    pending = list(paths)
    running: dict[str, tuple[Any, Any, float, dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    while pending or running:
        while pending and len(running) < workers:
            path = pending.pop(0)
            queue = context.Queue()
            process = context.Process(target=_run_one, args=(path, str(root), queue), daemon=True)
            process.start()
            running[path] = (process, queue, time.monotonic(), {"path": path})
        time.sleep(0.05)
        for path, (process, queue, started, row) in list(running.items()):
            _collect(queue, row)
            if process.is_alive() and time.monotonic() - started < timeout:
                continue
            if process.is_alive():
                process.kill()
                row["timeout"] = True
            process.join()
            time.sleep(0.01)
            _collect(queue, row)
            rows.append(row)
            del running[path]
            print(_line(row), flush=True)
    return sorted(rows, key=lambda row: row["path"])


def _line(row: dict[str, Any]) -> str:
    def cell(tool: str) -> str:
        data = row.get(tool)
        if data is None:
            return "-"
        if "error" in data:
            return f"{data['error']} {data['seconds']}s"
        return f"wt={int(data['watertight'])} cov={data['coverage']:.3f} ch={int(data['changed'])} {data['seconds']}s"

    kind = "?" if "clean" not in row else "/".join(
        "-" if row.get(flag) is None else ("clean" if row[flag] else "broken") for flag in SPLITS.values())
    flags = " TIMEOUT" if row.get("timeout") else ""
    return f"{row['path']:<60} {kind:<13} {cell('meshmill'):<40} {cell('pymeshfix')}{flags}"


SPLITS = {"issue": "issue_clean", "meshmill": "clean"}  # split name -> the row's clean flag


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts side by side for both tools, under each split (module docstring)."""
    loaded = [row for row in rows if "clean" in row]
    summary: dict[str, Any] = {"meshes": len(rows), "loaded": len(loaded),
                               "load_errors": sum("load_error" in row for row in rows),
                               "timeouts_before_repair": sum(row.get("timeout", False) and "clean" not in row
                                                             for row in rows),
                               "timeouts": sorted(row["path"] for row in rows if row.get("timeout"))}
    for split, flag in SPLITS.items():
        summary[split] = _split_summary([row for row in loaded if row.get(flag) is not None], flag)
    both = [row for row in loaded if _ok(row.get("meshmill")) and _ok(row.get("pymeshfix"))]
    ratios = [row["meshmill"]["seconds"] / max(row["pymeshfix"]["seconds"], 1e-6) for row in both]
    summary["time_ratio"] = {
        "median_per_mesh": round(statistics.median(ratios), 3) if ratios else None,
        "of_medians": _ratio([r["meshmill"]["seconds"] for r in both], [r["pymeshfix"]["seconds"] for r in both],
                             statistics.median),
        "of_totals": _ratio([r["meshmill"]["seconds"] for r in both], [r["pymeshfix"]["seconds"] for r in both], sum),
    }
    return summary


def _split_summary(rows: list[dict[str, Any]], flag: str) -> dict[str, Any]:
    """Broken and clean counts under one split, and each tool's figures on it."""
    broken = [row for row in rows if not row[flag]]
    clean = [row for row in rows if row[flag]]
    summary: dict[str, Any] = {"loaded": len(rows), "broken": len(broken), "clean": len(clean)}
    for tool in ("meshmill", "pymeshfix"):
        summary[tool] = _tool_summary(tool, broken, clean, rows)
    return summary


def _ratio(mine: list[float], theirs: list[float], how: Any) -> float | None:
    if not mine:
        return None
    return round(how(mine) / max(how(theirs), 1e-6), 3)


def _ok(data: dict[str, Any] | None) -> bool:
    return bool(data) and "error" not in data


def _tool_summary(tool: str, broken: list[dict], clean: list[dict], loaded: list[dict]) -> dict[str, Any]:
    done = [row[tool] for row in loaded if _ok(row.get(tool))]
    seconds = [data["seconds"] for data in done]
    return {
        "broken_watertight": sum(_ok(r.get(tool)) and r[tool]["watertight"] for r in broken),
        "broken_watertight_coverage_ge_0_99": sum(
            _ok(r.get(tool)) and r[tool]["watertight"] and r[tool]["coverage"] >= GOOD_COVERAGE
            for r in broken
        ),
        "clean_changed": sum(_ok(r.get(tool)) and r[tool]["changed"] for r in clean),
        "clean_lost_shells": sum(_ok(r.get(tool)) and r[tool]["lost_shells"] for r in clean),
        "clean_identical": sum(_ok(r.get(tool)) and r[tool]["identical"] for r in clean),
        "errors": sum(bool(r.get(tool)) and "error" in r[tool] for r in loaded),
        "no_result": sum(tool not in r for r in loaded),
        "median_s": round(statistics.median(seconds), 3) if seconds else None,
        "max_s": max(seconds) if seconds else None,
        "over_30s_without_error": sum(s > SLOW_S for s in seconds),
    }


def print_table(summary: dict[str, Any]) -> None:
    """The side-by-side summary as text tables, one per split."""
    print(f"\nmeshes {summary['meshes']}  loaded {summary['loaded']}  load errors {summary['load_errors']}  "
          f"timeouts before repair {summary['timeouts_before_repair']}  timeouts {summary['timeouts']}")
    for split in SPLITS:
        part = summary[split]
        print(f"\n{split} split: loaded {part['loaded']}  broken {part['broken']}  clean {part['clean']}")
        print(f"{'figure':<40} {'meshmill':>10} {'pymeshfix':>10}")
        for key in part["meshmill"]:
            print(f"{key:<40} {part['meshmill'][key]!s:>10} {part['pymeshfix'][key]!s:>10}")
    print(f"\nwall-time ratio meshmill/pymeshfix: {summary['time_ratio']}")


def _preload() -> None:
    """Import the heavy modules and run both tools once, so every forked child starts warm.

    This is how the service runs: Celery's prefork workers are forked from a parent that has
    already imported and used the code. Both tools get the same warm-up (a small box), so
    neither pays first-call costs (lazy imports, numpy dispatch caches) in the timed run.
    """
    import numpy as np
    import pymeshfix
    import trimesh

    import pipelines.mesh_io  # noqa: F401
    from pipelines.mesh_repair import repair_mesh

    box = trimesh.creation.box()
    for mesh in (box, trimesh.Trimesh(box.vertices, box.faces[1:], process=False)):
        repair_mesh(trimesh.Trimesh(mesh.vertices, mesh.faces, process=False))
        pymeshfix.MeshFix(np.asarray(mesh.vertices, dtype=np.float64),
                          np.asarray(mesh.faces, dtype=np.int32)).repair()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N meshes")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mesh (load + both tools)")
    parser.add_argument("--workers", type=int, default=2, help="child processes at a time (max 2)")
    parser.add_argument("--only", default=None, help="only paths containing this text")
    args = parser.parse_args()
    _preload()
    root = shared_dir() / "meshes"
    corpus_files(root, "MANIFEST.csv")  # a clear exit when the corpus is not there
    paths = mesh_paths(root)
    if args.only:
        paths = [path for path in paths if args.only in path]
    paths = paths[: args.limit] if args.limit else paths
    rows = run_all(paths, root, args.timeout, max(1, min(2, args.workers)))
    summary = summarise(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print_table(summary)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
