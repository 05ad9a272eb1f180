"""Mesh repair for manufacturing that keeps what it should: per shell, cheapest fix first.

``repair_mesh(mesh, ...)`` returns a ``RepairResult`` (repaired mesh + JSON-able report).

How it works:

1. Guards: more faces than ``limits.max_triangles`` -> ``TooComplexError("MESH_TOO_COMPLEX")``.
2. An input whose every shell is watertight and winding-consistent comes back unchanged: the
   very same vertex and face arrays (copied), not even reordered; its volume sign is not touched.
   This check is one sort of the edge list (``mesh_shells.clean_summary``), which also yields the
   report's figures, so a clean input costs no more than that.
3. Otherwise faces are split into clean shells (passed through untouched) and broken ones. The
   broken part gets the cheap fixes of ``mesh_shells.cheap_fixes`` (merge vertices, drop
   degenerate/duplicate faces, stitch cracks, fix winding) and is split into shells again. The
   cheap fixes read ambiguous input one way first (an opposite-wound duplicate pair is the
   shared wall of two touching solids; coplanar faces at a crowded edge go to different solids);
   when that leaves a shell open, or the part has opposite-wound duplicates, the other reading
   (every duplicate redundant; coplanar faces close a fin) is repaired too and kept when it
   clearly leaves less open, or as much with fewer filled holes or more volume
   (``_second_reading``). Each broken shell on its own:
   - an *intentionally open surface* (a zero-thickness sheet, or holes whose fan area is at least
     ``TOL.open_hole_area_ratio`` of its surface) is left as is and reported in ``open_surfaces``;
   - boundary loops of at most ``max_hole_size`` edges are closed with fans (``mesh_holes``);
   - when shells are still not clean after the reading is chosen, the broken part as manifold3d
     reads it (``mesh_union.manifold_reading``: it pairs the half-edges of edges walked as often
     each way, as solids that overlap on shared edges leave them) replaces the whole repair of
     that part if it is clean and keeps 1 - ``coverage_loss`` of its surface (``manifold_reading``);
   - only if it is still not clean (and after the reading is chosen), pymeshfix (fill + clean)
     runs on that shell alone; its result
     is kept only when the shell comes out clean and keeps at least 1 - ``TOL.coverage_loss``
     (``coverage_loss_aggressive`` when ``aggressive``) of the shell's surface; otherwise the
     cheaper result is kept and ``pymeshfix_rejected(shell k)`` is reported;
   - a shell that is still open and smaller than ``TOL.debris_area`` of the total area (the
     larger ``debris_area_aggressive`` when ``aggressive``) is dropped as debris, and so is a flat
     fragment under ``TOL.debris_flat_area``; but all dropped debris together never exceeds the
     coverage budget (``coverage_loss`` of the total area): past it, fragments are kept open, so a
     triangle soup is returned whole rather than silently thinned out;
   - an open piece (reported open surfaces too) that the closed pieces already cover (all its
     corners, then 1 - ``TOL.covered_loss`` of its surface) is a leftover copy and is dropped
     (``drop_covered``);
   - a closed shell with negative volume is turned outward unless its box lies inside another
     shell's box (then it is taken for a cavity).
4. Shells are merged back by concatenation: separate closed shells are a valid solid for volume
   as long as they do not overlap. With ``remove_self_intersections`` closed shells whose boxes
   overlap are united with manifold3d (float32 coordinates) and each shell's self-intersecting
   triangles are removed by pymeshfix, under the same coverage check.

Time: ``time_budget_s`` is checked between shells; once it is spent the repair ends in
``TooComplexError("MESH_TOO_COMPLEX")``. pymeshfix runs in C and cannot be interrupted, so before
each call its time is estimated from the face count (``TOL.pymeshfix_s_per_face``); a call that
would overrun the budget is skipped (``pymeshfix_skipped(shell k)``) and the shell keeps its
cheaper repair. The task layer still runs the whole job under Celery's soft/hard time limits.

Quality score (0-100), reported as ``quality_score``::

    100 * (0.35 * W + 0.15 * M + 0.35 * C + 0.15 * V)

    W = share of the repaired area in watertight shells (open surfaces kept on purpose count)
    M = 1 if the repaired mesh has no non-manifold edges else 0
    C = clamp((coverage - 0.90) / 0.10, 0, 1)
    V = 1 - min(1, |volume_change_percent| / 25)   (1 when the original volume is ~0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pymeshfix
import trimesh

from pipelines.errors import InputError, TooComplexError
from pipelines.limits import LIMITS, Limits
from pipelines.mesh_analysis import UNIT_TO_CM3, analyze_mesh, overlap_figures
from pipelines.mesh_coverage import points_near, surface_coverage
from pipelines.mesh_holes import boundary_loops, fill_loops, loop_area
from pipelines.mesh_repair_tol import TOL
from pipelines.mesh_shells import (
    cheap_fixes,
    clean_face_mask,
    clean_summary,
    diagonal,
    is_clean,
    principal_thickness,
    shell_labels,
)
from pipelines.progress import Progress, no_progress

STAT_KEYS = ("volume_cm3", "holes_count", "is_watertight", "is_manifold", "shells", "overlapping_shells",
             "union_volume_cm3")


@dataclass
class RepairResult:
    """The repaired mesh and its JSON-able report."""

    mesh: trimesh.Trimesh
    report: dict[str, Any]


@dataclass(frozen=True)
class Options:
    """The caller's choices, passed down to each shell."""

    aggressive: bool
    fill_holes: bool
    max_hole_size: int | None
    deadline: float
    scale: float
    total_area: float

    @property
    def coverage_loss(self) -> float:
        return TOL.coverage_loss_aggressive if self.aggressive else TOL.coverage_loss

    @property
    def debris_area(self) -> float:
        return (TOL.debris_area_aggressive if self.aggressive else TOL.debris_area) * self.total_area


@dataclass
class Outcome:
    """What happened to the shells: kept pieces and the report's running figures."""

    pieces: list[trimesh.Trimesh] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    open_surfaces: list[dict[str, Any]] = field(default_factory=list)
    open_pieces: list[trimesh.Trimesh] = field(default_factory=list)  # the piece of each entry
    holes_filled: int = 0
    dropped_area: float = 0.0
    # shells the cheap fixes left open: (cheap result, shell, number), for pymeshfix later
    deferred: list[tuple[trimesh.Trimesh, trimesh.Trimesh, int]] = field(default_factory=list)

    def may_drop(self, area: float, opts: Options) -> bool:
        """True (and counted) when dropping ``area`` keeps all debris within the coverage budget."""
        if self.dropped_area + area > opts.coverage_loss * opts.total_area:
            return False
        self.dropped_area += area
        return True

    def keep(self, mesh: trimesh.Trimesh, closed: bool) -> None:
        self.pieces.append(mesh)
        self.closed.append(closed)

    def absorb(self, other: Outcome) -> None:
        """Add ``other``'s pieces and figures to these."""
        self.pieces += other.pieces
        self.closed += other.closed
        self.operations += other.operations
        self.open_surfaces += other.open_surfaces
        self.open_pieces += other.open_pieces
        self.holes_filled += other.holes_filled
        self.dropped_area += other.dropped_area
        self.deferred += other.deferred

    def open_area(self) -> float:
        """Area of the shells left open: kept pieces that are not clean, and deferred shells."""
        kept = sum(piece.area for piece in self.pieces if not is_clean(piece))
        return float(kept + sum(shell.area for _, shell, _ in self.deferred))


def repair_mesh(
    mesh: trimesh.Trimesh,
    *,
    aggressive: bool = False,
    keep_all_shells: bool = True,
    fill_holes: bool = True,
    max_hole_size: int | None = None,
    remove_self_intersections: bool = False,
    units: str = "mm",
    time_budget_s: float = 25.0,
    progress: Progress = no_progress,
    limits: Limits = LIMITS,
) -> RepairResult:
    """Repair ``mesh`` shell by shell (see the module docstring); ``mesh`` is not modified."""
    _check_input(mesh, max_hole_size, time_budget_s, units, limits)
    deadline = time.monotonic() + time_budget_s
    progress(5, "analysing mesh")
    if not remove_self_intersections:
        summary = clean_summary(mesh.vertices, mesh.faces)
        if summary is not None and (keep_all_shells or summary[0] == 1):
            progress(100, "done: mesh already clean")
            return _unchanged(mesh, _clean_stats(mesh, *summary, units))
    before = analyze_mesh(mesh, units=units)
    work, outcome = _select_shells(mesh, keep_all_shells)
    opts = Options(aggressive, fill_holes, max_hole_size, deadline, diagonal(mesh), float(mesh.area))
    _repair_shells(work, opts, outcome, progress)
    if remove_self_intersections:
        progress(85, "removing self-intersections")
        _remove_intersections(outcome, opts)
    progress(90, "merging shells")
    repaired = _merge(outcome.pieces)
    if len(repaired.faces) == 0:
        raise InputError("MESH_DEGENERATE", "No face of the mesh survives removing degenerate faces.",
                         {"faces": len(mesh.faces)})
    progress(95, "writing report")
    report = _report(mesh, repaired, before, analyze_mesh(repaired, units=units), outcome)
    progress(100, "done")
    return RepairResult(repaired, report)


def _check_input(
    mesh: trimesh.Trimesh, max_hole_size: int | None, budget: float, units: str, limits: Limits
) -> None:
    """Reject empty, oversized or badly parameterised requests before any work."""
    if len(mesh.faces) == 0:
        raise InputError("MESH_EMPTY", "The mesh has no faces.")
    if len(mesh.faces) > limits.max_triangles:
        raise TooComplexError(
            "MESH_TOO_COMPLEX",
            f"{len(mesh.faces)} triangles is over the limit of {limits.max_triangles}.",
            {"faces": len(mesh.faces), "max_triangles": limits.max_triangles},
        )
    if max_hole_size is not None and max_hole_size < 3:
        raise InputError("INVALID_PARAMETER", "max_hole_size must be at least 3 edges.",
                         {"max_hole_size": max_hole_size})
    if budget <= 0:
        raise InputError("INVALID_PARAMETER", "time_budget_s must be positive.", {"time_budget_s": budget})
    if units not in UNIT_TO_CM3:
        raise InputError("INVALID_UNITS", f"Unknown units {units!r}.",
                         {"units": units, "allowed": list(UNIT_TO_CM3)})


def _check_time(deadline: float, where: str) -> None:
    if time.monotonic() > deadline:
        raise TooComplexError("MESH_TOO_COMPLEX", f"Repair ran out of its time budget while {where}.",
                              {"stage": where})


def _select_shells(mesh: trimesh.Trimesh, keep_all: bool) -> tuple[trimesh.Trimesh, Outcome]:
    """The mesh to repair: all of it, or only its largest shell (by area) when not ``keep_all``."""
    outcome = Outcome()
    if keep_all:
        return mesh, outcome
    labels = shell_labels(np.asarray(mesh.faces), len(mesh.vertices))
    if labels.max(initial=0) == 0:
        return mesh, outcome
    area = np.bincount(labels, weights=mesh.area_faces)
    outcome.operations.append(f"keep_largest_shell(dropped {len(area) - 1})")
    return _submesh(mesh, labels == int(area.argmax())), outcome


def _clean_stats(mesh: trimesh.Trimesh, shells: int, volume: float, units: str) -> dict[str, Any]:
    """``analyze_mesh``'s figures that the report uses, for a mesh whose every shell is clean."""
    faces = np.asarray(mesh.faces)
    labels = shell_labels(faces, len(mesh.vertices)) if shells > 1 else np.zeros(len(faces), dtype=np.int64)
    factor = UNIT_TO_CM3[units]
    overlap = overlap_figures(np.asarray(mesh.vertices, dtype=np.float64), faces, labels, volume, factor)
    return {"volume_cm3": volume * factor, "holes_count": 0, "is_watertight": True,
            "is_manifold": True, "shells": shells, "overlapping_shells": overlap["overlapping_shells"],
            "union_volume_cm3": overlap["union_volume_cm3"]}


def _unchanged(mesh: trimesh.Trimesh, stats: dict[str, Any]) -> RepairResult:
    """The result for a clean input: identical arrays, a report with nothing done."""
    same = trimesh.Trimesh(vertices=mesh.vertices.copy(), faces=mesh.faces.copy(), process=False)
    picked = _pick(stats)
    report = {
        "original_stats": picked, "repaired_stats": dict(picked),
        "volume_change_cm3": 0.0, "volume_change_percent": 0.0, "holes_filled": 0,
        "quality_score": _quality(stats, 1.0, 0.0, 1.0), "coverage": 1.0,
        "operations": [], "open_surfaces": [], "unchanged": True,
    }
    return RepairResult(same, report)


def _submesh(mesh: trimesh.Trimesh, mask: np.ndarray) -> trimesh.Trimesh:
    """Faces in ``mask`` with only the vertices they use, order kept."""
    faces = np.asarray(mesh.faces)[mask]
    used, inverse = np.unique(faces, return_inverse=True)
    return trimesh.Trimesh(mesh.vertices[used], inverse.reshape(-1, 3), process=False)


def _split(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    """Shells of ``mesh`` (faces linked by any shared edge), largest first."""
    labels = shell_labels(np.asarray(mesh.faces), len(mesh.vertices))
    if len(labels) == 0:
        return []
    order = np.argsort(-np.bincount(labels, weights=mesh.area_faces), kind="stable")
    return [_submesh(mesh, labels == label) for label in order]


def _repair_shells(mesh: trimesh.Trimesh, opts: Options, outcome: Outcome, progress: Progress) -> None:
    """Pass clean shells through; cheap-fix, then repair each broken shell on its own.

    The broken part is read first with shared walls kept (``cheap_fixes(walls=True)``); when that
    leaves a shell open and the other reading (every duplicate redundant, coplanar faces closing
    fins) gives different faces, that reading is repaired too and the better one is kept
    (``_second_reading``). pymeshfix only runs after that choice, on the shells still open.
    """
    clean, _ = clean_face_mask(np.asarray(mesh.faces), len(mesh.vertices))
    if clean.any():
        outcome.keep(_submesh(mesh, clean), True)
    if clean.all():
        return
    progress(10, "cheap fixes on broken shells")
    broken = _submesh(mesh, ~clean)
    fixed, ops = cheap_fixes(broken, opts.scale)
    first = _repair_fixed(fixed, ops, opts, progress)
    chosen = _second_reading(broken, fixed, first, opts, progress)
    if chosen.deferred:
        chosen = _manifold_reading(broken, opts) or chosen
    for cheap, shell, number in chosen.deferred:
        _check_time(opts.deadline, f"repairing shell {number}")
        _finish_shell(cheap, shell, number, opts, chosen)
    chosen.deferred = []
    outcome.absorb(chosen)
    _drop_covered(outcome, opts)
    _orient_outward(outcome)


def _second_reading(
    broken: trimesh.Trimesh, fixed: trimesh.Trimesh, first: Outcome, opts: Options, progress: Progress
) -> Outcome:
    """``first``, or the repair of the other reading of ``broken`` when that does better.

    The other reading is tried when the first leaves a shell open, or when the broken part has
    opposite-wound duplicates (stray flipped copies read as walls are closed into bogus inner
    shells; a double-sided closed surface read as walls is an outer and an inverted inner shell
    of zero volume). Better means clearly less area left open (by ``TOL.reread_gain`` of it: the
    open shells still go to pymeshfix, so a marginal gain is no gain), or as much left open and
    fewer filled holes, or else more enclosed volume.
    """
    doubled = _has_opposite_duplicates(np.asarray(broken.faces))
    settled = not first.deferred and not first.open_surfaces
    if not doubled and (settled or not any(op.startswith("split_non_manifold") for op in first.operations)):
        return first  # the two readings differ only in duplicates and at crowded edges
    other, ops = cheap_fixes(broken, opts.scale, walls=False)
    if np.array_equal(other.faces, fixed.faces) and np.array_equal(other.vertices, fixed.vertices):
        return first
    second = _repair_fixed(other, ops, opts, progress)
    margin = 1e-9 * opts.total_area
    before, after = first.open_area(), second.open_area()
    if after < before - max(margin, TOL.reread_gain * before) \
            or (abs(after - before) <= margin and _fewer_fills_or_more_volume(second, first)):
        second.operations.append("reread_duplicates_and_walls")
        return second
    return first


def _manifold_reading(broken: trimesh.Trimesh, opts: Options) -> Outcome | None:
    """The broken part as manifold3d reads it, when that is clean and keeps its surface.

    Tried before pymeshfix on a part the cheap fixes leave open: solids that overlap and meet on
    edges in coinciding wedges have every edge walked as often one way as the other, and
    manifold3d pairs such half-edges where the angular pairing cannot.
    """
    from pipelines.mesh_union import manifold_reading  # manifold3d only when needed

    _check_time(opts.deadline, "reading the broken part with manifold3d")
    read = manifold_reading(broken)
    if read is None or not is_clean(read) or surface_coverage(broken, read) < 1.0 - opts.coverage_loss:
        return None
    outcome = Outcome(operations=["manifold_reading"])
    outcome.keep(read, True)
    return outcome


def _fewer_fills_or_more_volume(second: Outcome, first: Outcome) -> bool:
    """Between two readings that leave the same area open: fewer holes filled, else more volume."""
    if second.holes_filled != first.holes_filled:
        return second.holes_filled < first.holes_filled
    volume = [abs(sum(p.volume for p, ok in zip(o.pieces, o.closed, strict=True) if ok and is_clean(p)))
              for o in (first, second)]
    return volume[1] > 1.01 * volume[0] + 1e-12


def _has_opposite_duplicates(faces: np.ndarray) -> bool:
    """True when some three vertices carry faces wound both ways."""
    if len(faces) < 2:
        return False
    faces = np.asarray(faces, dtype=np.int64)
    ordered = np.sort(faces, axis=1)
    rank = np.argsort(faces, axis=1)
    even = (rank[:, 0] - rank[:, 1]) * (rank[:, 1] - rank[:, 2]) * (rank[:, 2] - rank[:, 0]) > 0
    if faces.max() < 1 << 20:  # one int64 per triangle: 20 bits per index, one for the winding
        key = (ordered[:, 0] << 41) | (ordered[:, 1] << 21) | (ordered[:, 2] << 1)
        key = np.sort(key | even)
        same = (key[1:] >> 1) == (key[:-1] >> 1)
        return bool((same & (key[1:] != key[:-1])).any())
    keys = np.unique(np.column_stack([ordered, even]), axis=0)
    return len(keys) > len(np.unique(ordered, axis=0))


def _repair_fixed(fixed: trimesh.Trimesh, ops: list[str], opts: Options, progress: Progress) -> Outcome:
    """Cheap repair of each shell of the cheap-fixed broken part; a fresh ``Outcome`` for it."""
    outcome = Outcome(operations=list(ops))
    shells = _split(fixed)
    for index, shell in enumerate(shells):
        _check_time(opts.deadline, f"repairing shell {index + 1} of {len(shells)}")
        progress(15 + 65 * index // len(shells), f"repairing shell {index + 1} of {len(shells)}")
        _repair_shell(shell, index + 1, opts, outcome)
    return outcome


def _repair_shell(shell: trimesh.Trimesh, number: int, opts: Options, outcome: Outcome) -> None:
    """Close one broken shell with cheap fixes, or keep/report/drop it; else defer it to pymeshfix."""
    if is_clean(shell):
        outcome.keep(shell, True)
        return
    if shell.area < TOL.debris_flat_area * opts.total_area and _is_flat(shell, opts) \
            and outcome.may_drop(shell.area, opts):
        outcome.operations.append(f"drop_debris(shell {number})")
        return
    loops = boundary_loops(np.asarray(shell.faces))
    if loops and _is_open_surface(shell, loops, opts):
        outcome.keep(shell, True)
        outcome.open_surfaces.append(_open_entry(shell, loops, number))
        outcome.open_pieces.append(shell)
        return
    cheap = shell
    if opts.fill_holes and loops:
        vertices, faces, filled = fill_loops(shell.vertices, shell.faces, loops, opts.max_hole_size)
        if filled:
            cheap = trimesh.Trimesh(vertices, faces, process=False)
            outcome.holes_filled += filled
            outcome.operations.append(f"fill_holes(shell {number}: {filled})")
    if is_clean(cheap):
        outcome.keep(cheap, True)
        return
    outcome.deferred.append((cheap, shell, number))


def _finish_shell(cheap: trimesh.Trimesh, shell: trimesh.Trimesh, number: int, opts: Options,
                  outcome: Outcome) -> None:
    """A shell the cheap fixes left open: pymeshfix if it keeps the surface, else debris or kept open."""
    better = _try_pymeshfix(cheap, shell, number, opts, outcome) if opts.fill_holes else None
    if better is not None:
        outcome.keep(better, True)
    elif cheap.area < opts.debris_area and outcome.may_drop(shell.area, opts):
        outcome.operations.append(f"drop_debris(shell {number})")
    else:
        outcome.keep(cheap, False)


def _drop_covered(outcome: Outcome, opts: Options) -> None:
    """Drop open pieces (reported open surfaces included) that the closed pieces already cover.

    Such a piece is a leftover copy of surface that was closed another way (e.g. a patch that
    met the rest only through zero-area faces, whose hole was then filled): dropping it loses
    nothing, which ``surface_coverage`` of the piece by the closed pieces (at least
    1 - ``TOL.covered_loss``, on ``TOL.covered_samples`` points) confirms.
    """
    solid = [i for i, piece in enumerate(outcome.pieces) if outcome.closed[i] and is_clean(piece)]
    loose = [i for i, piece in enumerate(outcome.pieces) if i not in solid]
    if not solid or not loose:
        return
    rest = _merge([outcome.pieces[i] for i in solid])
    low, high = rest.bounds
    light = replace(TOL, coverage_samples=TOL.covered_samples, coverage_dense_cap=TOL.covered_dense_cap)
    dropped = set()
    for i in loose:
        piece = outcome.pieces[i]
        margin = TOL.coverage_distance * diagonal(piece)
        if (piece.bounds[0] < low - margin).any() or (piece.bounds[1] > high + margin).any():
            continue  # part of it lies outside the closed pieces' box: not covered
        if not points_near(rest, np.asarray(piece.vertices), margin).all():
            continue  # a corner of it is off the closed pieces: not covered
        if surface_coverage(piece, rest, tol=light) >= 1.0 - TOL.covered_loss:
            dropped.add(i)
    if not dropped:
        return
    gone = [outcome.pieces[i] for i in dropped]
    kept = [k for k, piece in enumerate(outcome.open_pieces) if not any(piece is g for g in gone)]
    outcome.open_surfaces = [outcome.open_surfaces[k] for k in kept]
    outcome.open_pieces = [outcome.open_pieces[k] for k in kept]
    outcome.pieces = [p for i, p in enumerate(outcome.pieces) if i not in dropped]
    outcome.closed = [c for i, c in enumerate(outcome.closed) if i not in dropped]
    outcome.operations.append(f"drop_covered({len(dropped)})")


def _is_flat(shell: trimesh.Trimesh, opts: Options) -> bool:
    return principal_thickness(shell.vertices) <= TOL.flat_thickness * opts.scale


def _is_open_surface(shell: trimesh.Trimesh, loops: list[np.ndarray], opts: Options) -> bool:
    """A zero-thickness sheet, or (unless aggressive) a sheet with one opening about its own size."""
    if _is_flat(shell, opts):
        return True
    if opts.aggressive or len(loops) != 1:
        return False
    return loop_area(shell.vertices, loops[0]) >= TOL.open_hole_area_ratio * shell.area


def _open_entry(shell: trimesh.Trimesh, loops: list[np.ndarray], number: int) -> dict[str, Any]:
    return {"shell": number, "faces": len(shell.faces), "area": float(shell.area),
            "boundary_loops": len(loops), "boundary_edges": int(sum(len(loop) for loop in loops))}


def _try_pymeshfix(
    cheap: trimesh.Trimesh, shell: trimesh.Trimesh, number: int, opts: Options, outcome: Outcome
) -> trimesh.Trimesh | None:
    """pymeshfix on one shell, kept only if it closes it without losing surface."""
    estimate = TOL.pymeshfix_overhead_s + TOL.pymeshfix_s_per_face * len(cheap.faces)
    if time.monotonic() + estimate > opts.deadline:
        outcome.operations.append(f"pymeshfix_skipped(shell {number}: over time budget)")
        return None
    fixed = run_pymeshfix(cheap, opts.max_hole_size)
    coverage = surface_coverage(shell, fixed) if len(fixed.faces) else 0.0
    if len(fixed.faces) and is_clean(fixed) and coverage >= 1.0 - opts.coverage_loss:
        outcome.operations.append(f"pymeshfix(shell {number})")
        outcome.holes_filled += len(boundary_loops(np.asarray(shell.faces)) or [])
        return fixed
    outcome.operations.append(f"pymeshfix_rejected(shell {number}: coverage {coverage:.3f})")
    return None


def run_pymeshfix(mesh: trimesh.Trimesh, max_hole_size: int | None = None) -> trimesh.Trimesh:
    """pymeshfix fill (loops up to ``max_hole_size`` edges) and clean, keeping every component."""
    tmesh = pymeshfix.PyTMesh()
    tmesh.set_quiet(1)
    tmesh.load_array(np.ascontiguousarray(mesh.vertices, dtype=np.float64),
                     np.ascontiguousarray(mesh.faces, dtype=np.int32))
    tmesh.fill_small_boundaries(max_hole_size or 0, True)
    tmesh.clean(10, 3)
    vertices, faces = tmesh.return_arrays()
    return trimesh.Trimesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64),
                           process=False)


def _orient_outward(outcome: Outcome) -> None:
    """Flip closed shells with negative volume unless another shell's box contains theirs."""
    boxes = [piece.bounds for piece in outcome.pieces]
    for index, piece in enumerate(outcome.pieces):
        if not outcome.closed[index] or not is_clean(piece) or piece.volume >= 0:
            continue
        inside = any(j != index and (boxes[j][0] <= boxes[index][0]).all()
                     and (boxes[j][1] >= boxes[index][1]).all() for j in range(len(boxes)))
        if not inside:
            piece.invert()
            outcome.operations.append("fix_inversion")


def _remove_intersections(outcome: Outcome, opts: Options) -> None:
    """Clean self-intersecting closed shells with pymeshfix, then unite overlapping closed shells."""
    from pipelines.mesh_union import unite_overlapping  # manifold3d only when asked for

    pieces, closed = [], []
    for piece, ok in zip(outcome.pieces, outcome.closed, strict=True):
        shells = _split(piece)
        pieces += shells
        closed += [ok] * len(shells)
    outcome.pieces, outcome.closed = pieces, closed
    for index, piece in enumerate(outcome.pieces):
        _check_time(opts.deadline, "removing self-intersections")
        if outcome.closed[index] and _self_intersects(piece):
            fixed = run_pymeshfix(piece)
            if len(fixed.faces) and surface_coverage(piece, fixed) >= 1.0 - opts.coverage_loss:
                outcome.pieces[index] = fixed
                outcome.operations.append("remove_self_intersections")
    outcome.pieces, outcome.closed, united = unite_overlapping(outcome.pieces, outcome.closed)
    if united:
        outcome.operations.append(f"union({united} shells)")


def _self_intersects(mesh: trimesh.Trimesh) -> bool:
    tmesh = pymeshfix.PyTMesh()
    tmesh.set_quiet(1)
    tmesh.load_array(np.ascontiguousarray(mesh.vertices, dtype=np.float64),
                     np.ascontiguousarray(mesh.faces, dtype=np.int32))
    return len(tmesh.select_intersecting_triangles()) > 0


def _merge(pieces: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """Concatenate shells into one mesh, vertex arrays stacked in order."""
    pieces = [piece for piece in pieces if len(piece.faces)]
    if not pieces:
        return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), process=False)
    offsets = np.cumsum([0] + [len(piece.vertices) for piece in pieces[:-1]])
    vertices = np.vstack([piece.vertices for piece in pieces])
    pairs = zip(pieces, offsets, strict=True)
    faces = np.vstack([np.asarray(piece.faces) + offset for piece, offset in pairs])
    return trimesh.Trimesh(vertices, faces, process=False)


def _pick(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: stats[key] for key in STAT_KEYS}


def _report(
    original: trimesh.Trimesh, repaired: trimesh.Trimesh, before: dict[str, Any], after: dict[str, Any],
    outcome: Outcome,
) -> dict[str, Any]:
    """The JSON-able report of seed 000's shape plus coverage, operations and open surfaces."""
    coverage = surface_coverage(original, repaired)
    change = after["volume_cm3"] - before["volume_cm3"]
    percent = 100.0 * change / abs(before["volume_cm3"]) if abs(before["volume_cm3"]) > 1e-12 else 0.0
    closed_area = sum(p.area for p, ok in zip(outcome.pieces, outcome.closed, strict=True) if ok)
    watertight = closed_area / repaired.area if repaired.area > 0 else 0.0
    return {
        "original_stats": _pick(before),
        "repaired_stats": _pick(after),
        "volume_change_cm3": float(change),
        "volume_change_percent": float(percent),
        "holes_filled": int(outcome.holes_filled),
        "quality_score": _quality(after, watertight, percent, coverage),
        "coverage": float(coverage),
        "operations": outcome.operations,
        "open_surfaces": outcome.open_surfaces,
        "unchanged": False,
    }


def _quality(after: dict[str, Any], watertight: float, percent: float, coverage: float) -> float:
    """The documented 0-100 score (module docstring)."""
    manifold = 1.0 if after["is_manifold"] else 0.0
    cover = min(1.0, max(0.0, (coverage - 0.90) / 0.10))
    volume = 1.0 - min(1.0, abs(percent) / 25.0)
    return round(100.0 * (0.35 * watertight + 0.15 * manifold + 0.35 * cover + 0.15 * volume), 1)
