"""Tier 2: rule-based machining-feature recognition over the face adjacency graph.

Rules run in order, each claiming faces the earlier ones left:

1. holes: stacks of coaxial concave revolution faces whose cylinders close a full turn, plus the
   planar annuli and floors between them (counterbore, countersink, drill point); through when
   no face closes the stack;
2. fillets: convex curved faces with a smooth (tangent) edge, and concave tori and spheres;
3. chamfers: planes whose normal is along no frame axis and cones outside hole stacks, with only
   convex edges;
4. turned parts (area mostly coaxial revolution faces and planes across that axis): grooves
   (an outer cylinder with only concave edges and its two walls), ``turn_od``, ``turn_face``;
5. bosses: outer cylinders closing a full turn that meet a plane across their axis on a concave
   edge, plus their caps;
6. stock: planes lying on the part's bounding box in its own frame (bosses left out);
7. depressions: what remains, in connected groups; each group's box in the part frame touches
   the part's box on some sides ("open" sides): 1 pocket_blind, 2 opposite pocket_through,
   2 adjacent slot_blind, 3 with an opposite pair slot_through, 3 corner step_blind, 4+
   step_through.

Everything is intrinsic (convexity, coaxiality, perpendicularity) or measured in the part frame
from dominant face normals, so rotated, moved and scaled copies get the same labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.brep_graph import BrepGraph, FaceInfo, is_parallel, same_line

CLASSES = ("stock", "hole_through", "hole_blind", "pocket_blind", "pocket_through", "slot_through",
           "slot_blind", "step_through", "step_blind", "chamfer", "fillet", "boss", "turn_od",
           "turn_face", "groove")
CURVED = frozenset({"cylinder", "cone", "sphere", "torus", "bspline", "bezier", "revolution"})


@dataclass(frozen=True)
class RuleTol:
    """Thresholds of the rule tier (distances relative to the bounding-box diagonal)."""

    full_turn: float = 2 * math.pi - 0.05   # summed angular span of a complete hole or boss
    on_box_rel: float = 2e-3                # a plane this close to the box side lies on it
    turned_share: float = 0.9               # area share of coaxial faces that makes a turned part


TOL = RuleTol()
INWARD = frozenset({"concave", "smooth"})
CONFIDENCE = {"hole": 0.95, "fillet": 0.9, "chamfer": 0.85, "boss": 0.85, "turn": 0.85, "groove": 0.85,
              "depression": 0.8}


@dataclass
class Recognition:
    """Per-face labels, per-face feature ids and feature instances."""

    labels: list[str]
    feature_of: list[int | None]
    features: list[dict[str, Any]]
    confidence: float


def recognise(graph: BrepGraph) -> Recognition:
    """Label every face of ``graph`` and group feature faces into instances."""
    state = _State(graph)
    find_holes(state)
    find_fillets(state)
    find_chamfers(state)
    axis = turned_axis(graph, state)
    if axis is not None:
        find_turned(state, axis)
    else:
        find_bosses(state)
        find_stock(state)
    find_depressions(state)
    return state.result()


class _State:
    """Labels as rules assign them, and the feature list."""

    def __init__(self, graph: BrepGraph):
        self.g = graph
        self.labels: list[str | None] = [None] * len(graph.faces)
        self.feature_of: list[int | None] = [None] * len(graph.faces)
        self.features: list[dict[str, Any]] = []

    def free(self, i: int) -> bool:
        return self.labels[i] is None

    def add(self, kind: str, faces: list[int], conf: float, dims: dict[str, float] | None = None,
            axis: np.ndarray | None = None) -> None:
        """Record a feature instance and label its faces."""
        fid = len(self.features)
        for i in faces:
            self.labels[i] = kind
            self.feature_of[i] = fid
        self.features.append({"id": fid, "type": kind, "faces": sorted(faces),
                              "dimensions": {k: round(float(v), 4) for k, v in (dims or {}).items()},
                              "axis": None if axis is None else [round(float(a), 6) for a in axis],
                              "confidence": conf})

    def result(self) -> Recognition:
        """Unclaimed faces fall back to stock; confidence is the area-weighted mean."""
        area = np.array([f.area for f in self.g.faces]) + 1e-12
        conf = np.full(len(area), 0.5)
        for feat in self.features:
            conf[feat["faces"]] = feat["confidence"]
        stock = [i for i, lab in enumerate(self.labels) if lab == "stock"]
        conf[stock] = 0.9
        labels = [lab or "stock" for lab in self.labels]
        return Recognition(labels, self.feature_of, self.features, round(float((conf * area).sum() / area.sum()), 3))


# ---- holes ------------------------------------------------------------------------------------

def find_holes(s: _State) -> None:
    """Coaxial concave stacks that turn a full circle: plain, counterbored, countersunk, blind."""
    g = s.g
    for seed in _full_turn_groups(g, concave=True):
        if not all(s.free(i) for i in seed):
            continue
        stack = _grow_stack(g, set(seed))
        if any(not s.free(i) for i in stack):
            continue
        blind = any(_closes(g, i, stack) for i in stack)
        kind = "hole_blind" if blind else "hole_through"
        s.add(kind, sorted(stack), CONFIDENCE["hole"], hole_dimensions(g, stack), g.faces[seed[0]].axis)


def _full_turn_groups(g: BrepGraph, concave: bool) -> list[list[int]]:
    """Cylinders grouped by axis line and radius whose spans add up to a full turn."""
    cyl = [f for f in g.faces if f.surface_type == "cylinder" and f.concave is concave]
    groups: list[list[FaceInfo]] = []
    for f in cyl:
        for grp in groups:
            if same_line(grp[0], f, g.diagonal) and abs(grp[0].radius - f.radius) < 1e-3 * g.diagonal:
                grp.append(f)
                break
        else:
            groups.append([f])
    out = []
    for grp in groups:
        for part in _connected(g, [f.index for f in grp]):
            if sum(g.faces[i].span for i in part) >= TOL.full_turn:
                out.append(part)
    return out


def _connected(g: BrepGraph, members: list[int], joins: frozenset[str] | None = None) -> list[list[int]]:
    """Connected components of ``members`` over edges of the ``joins`` kinds (all when None)."""
    left, out = set(members), []
    while left:
        todo, comp = [left.pop()], []
        while todo:
            i = todo.pop()
            comp.append(i)
            for j, kinds in g.neighbours(i).items():
                if j in left and (joins is None or kinds & joins):
                    left.discard(j)
                    todo.append(j)
        out.append(sorted(comp))
    return out


def _grow_stack(g: BrepGraph, stack: set[int]) -> set[int]:
    """Add coaxial concave revolution faces and planar annuli or floors across the axis."""
    ref = g.faces[next(iter(stack))]
    changed = True
    while changed:
        changed = False
        for i in list(stack):
            for j in g.neighbours(i):
                if j in stack:
                    continue
                if _coaxial_wall(g, ref, j) or _across_stack(g, ref, j, stack):
                    stack.add(j)
                    changed = True
    return stack


def _across_stack(g: BrepGraph, ref: FaceInfo, j: int, stack: set[int]) -> bool:
    """A plane across the axis bounded only by stack faces or coaxial walls (annulus, floor)."""
    f = g.faces[j]
    return (f.surface_type == "plane" and is_parallel(f.normal, ref.axis)
            and all(k in stack or _coaxial_wall(g, ref, k) for k in g.neighbours(j)))


def _coaxial_wall(g: BrepGraph, ref: FaceInfo, k: int) -> bool:
    """A concave cylinder or cone on the same axis line as ``ref``."""
    f = g.faces[k]
    return f.surface_type in ("cylinder", "cone") and bool(f.concave) and same_line(ref, f, g.diagonal)


def _closes(g: BrepGraph, i: int, stack: set[int]) -> bool:
    """A floor: a one-wire plane or a cone all of whose neighbours are in the stack."""
    f = g.faces[i]
    inside = all(k in stack for k in g.neighbours(i))
    return inside and ((f.surface_type == "plane" and f.wires == 1) or f.surface_type == "cone")


def hole_dimensions(g: BrepGraph, stack: set[int]) -> dict[str, float]:
    """Diameter of the narrowest bore, depth along the axis, counterbore/countersink sizes."""
    faces = [g.faces[i] for i in stack]
    cyl = sorted({round(f.radius, 9) for f in faces if f.surface_type == "cylinder"})
    axis = next(f.axis for f in faces if f.axis is not None)
    pts = np.vstack([g.points[i] for i in stack if len(g.points[i])] or [np.zeros((1, 3))])
    proj = pts @ axis
    dims = {"diameter": 2 * cyl[0], "depth": float(proj.max() - proj.min())}
    if len(cyl) > 1:
        dims["counterbore_diameter"] = 2 * cyl[-1]
    cones = [f for f in faces if f.surface_type == "cone" and not _closes(g, f.index, stack)]
    if cones:
        dims["countersink_angle_deg"] = 2 * math.degrees(abs(cones[0].semi_angle or 0.0))
    return dims


# ---- blends -----------------------------------------------------------------------------------

def find_fillets(s: _State) -> None:
    """Convex curved faces with a tangent edge, and concave tori and spheres."""
    g = s.g
    picked = []
    for f in g.faces:
        if not s.free(f.index) or f.surface_type not in CURVED or f.surface_type == "cone":
            continue
        smooth = any("smooth" in kinds for kinds in g.neighbours(f.index).values())
        if not smooth:
            continue
        full = f.surface_type == "cylinder" and f.span >= TOL.full_turn
        if (f.concave is False and not full) or (f.concave and f.surface_type in ("torus", "sphere")):
            picked.append(f.index)
    for comp in _connected(g, picked):
        radius = min((g.faces[i].radius or 0.0) for i in comp)
        s.add("fillet", comp, CONFIDENCE["fillet"], {"radius": radius})


def find_chamfers(s: _State) -> None:
    """Oblique planes and stray cones bounded by convex edges only."""
    g = s.g
    picked = []
    for f in g.faces:
        if not s.free(f.index) or f.surface_type not in ("plane", "cone"):
            continue
        kinds = set().union(*g.neighbours(f.index).values()) if g.neighbours(f.index) else set()
        if kinds != {"convex"}:
            continue
        oblique = f.surface_type == "plane" and not any(is_parallel(f.normal, a) for a in g.frame)
        if oblique or (f.surface_type == "cone" and f.concave is False):
            picked.append(f.index)
    for comp in _connected(g, picked):
        s.add("chamfer", comp, CONFIDENCE["chamfer"], {"width": _width(g, comp)})


def _width(g: BrepGraph, faces: list[int]) -> float:
    """Narrow extent of a strip-like face group: area over its longest extent."""
    pts = np.vstack([g.points[i] for i in faces if len(g.points[i])] or [np.zeros((1, 3))])
    span = float(np.linalg.norm(pts.max(0) - pts.min(0))) or 1.0
    return sum(g.faces[i].area for i in faces) / span


# ---- turned parts -----------------------------------------------------------------------------

def turned_axis(g: BrepGraph, s: _State) -> FaceInfo | None:
    """The axis face of a turned part, or None when the part is not mostly coaxial."""
    rev = [f for f in g.faces if f.axis is not None and f.surface_type in ("cylinder", "cone", "torus")]
    if not rev:
        return None
    best, best_area = None, 0.0
    for f in rev:
        area = sum(h.area for h in rev if same_line(f, h, g.diagonal))
        if area > best_area:
            best, best_area = f, area
    total = sum(f.area for f in g.faces) or 1.0
    coaxial = sum(f.area for f in g.faces if _on_axis(g, f, best))
    has_od = any(f.concave is False and f.surface_type == "cylinder" and same_line(f, best, g.diagonal)
                 for f in rev)
    return best if has_od and coaxial / total >= TOL.turned_share else None


def _on_axis(g: BrepGraph, f: FaceInfo, axis: FaceInfo) -> bool:
    """A revolution face on the axis line or a plane across it."""
    if f.surface_type == "plane":
        return is_parallel(f.normal, axis.axis)
    return f.axis is not None and same_line(f, axis, g.diagonal)


def find_turned(s: _State, axis: FaceInfo) -> None:
    """Grooves, outer diameters and faces of a turned part."""
    g = s.g
    for f in g.faces:
        if not s.free(f.index) or f.surface_type != "cylinder" or f.concave or not same_line(f, axis, g.diagonal):
            continue
        kinds = [k for ks in g.neighbours(f.index).values() for k in ks]
        if kinds and all(k == "concave" for k in kinds):
            walls = [j for j, ks in g.neighbours(f.index).items()
                     if s.free(j) and g.faces[j].surface_type == "plane" and "concave" in ks]
            s.add("groove", [f.index, *walls], CONFIDENCE["groove"],
                  {"diameter": 2 * f.radius, "width": _extent(g, [f.index], axis.axis)}, axis.axis)
    for f in g.faces:
        if not s.free(f.index) or not _on_axis(g, f, axis):
            continue
        if f.surface_type == "plane":
            s.add("turn_face", [f.index], CONFIDENCE["turn"], {"diameter": _radial(g, f.index, axis)}, axis.axis)
        elif not f.concave:
            s.add("turn_od", [f.index], CONFIDENCE["turn"],
                  {"diameter": 2 * (f.radius or 0.0), "length": _extent(g, [f.index], axis.axis)}, axis.axis)


def _extent(g: BrepGraph, faces: list[int], direction: np.ndarray) -> float:
    """Extent of faces' sample points along ``direction``."""
    pts = np.vstack([g.points[i] for i in faces if len(g.points[i])] or [np.zeros((1, 3))])
    proj = pts @ direction
    return float(proj.max() - proj.min())


def _radial(g: BrepGraph, i: int, axis: FaceInfo) -> float:
    """Outer diameter of a face around the axis line."""
    pts = g.points[i] if len(g.points[i]) else np.zeros((1, 3))
    rel = pts - axis.location
    rel -= np.outer(rel @ axis.axis, axis.axis)
    return 2 * float(np.linalg.norm(rel, axis=1).max())


# ---- bosses, stock, depressions ---------------------------------------------------------------

def find_bosses(s: _State) -> None:
    """Outer full-turn cylinders standing on a plane across their axis, with their caps."""
    g = s.g
    for group in _full_turn_groups(g, concave=False):
        if not all(s.free(i) for i in group):
            continue
        ref = g.faces[group[0]]
        base = any(g.faces[j].surface_type == "plane" and is_parallel(g.faces[j].normal, ref.axis)
                   and "concave" in ks for i in group for j, ks in g.neighbours(i).items())
        if not base:
            continue
        faces = set(group)
        for i in group:
            for j, ks in g.neighbours(i).items():
                f = g.faces[j]
                if (s.free(j) and "convex" in ks and f.surface_type == "plane" and is_parallel(f.normal, ref.axis)
                        and all(k in faces or not s.free(k) for k in g.neighbours(j))):
                    faces.add(j)
        dims = {"diameter": 2 * ref.radius, "height": _extent(g, sorted(faces), ref.axis)}
        s.add("boss", sorted(faces), CONFIDENCE["boss"], dims, ref.axis)


def part_box(g: BrepGraph, exclude: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """Min and max corners of the part in its frame, leaving out ``exclude`` faces."""
    pts = [g.points[i] for i in range(len(g.faces)) if i not in exclude and len(g.points[i])]
    allp = np.vstack(pts) @ g.frame.T if pts else np.zeros((1, 3))
    return allp.min(0), allp.max(0)


def find_stock(s: _State) -> None:
    """Planes with a frame-axis normal lying on the part's box, facing out."""
    g = s.g
    bosses = {i for i, lab in enumerate(s.labels) if lab == "boss"}
    lo, hi = part_box(g, bosses)
    tol = TOL.on_box_rel * g.diagonal
    for f in g.faces:
        if not s.free(f.index) or f.surface_type != "plane" or not len(g.points[f.index]):
            continue
        for k, a in enumerate(g.frame):
            if not is_parallel(f.normal, a):
                continue
            level = float(np.mean(g.points[f.index] @ a))
            outward = f.normal.dot(a)
            if (outward > 0 and abs(level - hi[k]) < tol) or (outward < 0 and abs(level - lo[k]) < tol):
                s.labels[f.index] = "stock"


def find_depressions(s: _State) -> None:
    """Group the remaining faces and type each group by the sides of the part box it opens to."""
    g = s.g
    bosses = {i for i, lab in enumerate(s.labels) if lab == "boss"}
    lo, hi = part_box(g, bosses)
    tol = TOL.on_box_rel * g.diagonal * 5
    for comp in _connected(g, [i for i in range(len(g.faces)) if s.free(i)], INWARD):
        pts = [g.points[i] for i in comp if len(g.points[i])]
        if not pts:
            continue
        local = np.vstack(pts) @ g.frame.T
        clo, chi = local.min(0), local.max(0)
        open_sides = [(k, side) for k in range(3) for side, hit in
                      (("min", clo[k] - lo[k] < tol), ("max", hi[k] - chi[k] < tol)) if hit]
        kind = depression_kind(open_sides)
        size = np.sort(chi - clo)[::-1]
        dims = {"length": size[0], "width": size[1], "depth": _depth(open_sides, clo, chi, lo, hi)}
        s.add(kind, comp, CONFIDENCE["depression"], dims)


def depression_kind(open_sides: list[tuple[int, str]]) -> str:
    """Feature class from the open sides of a depression's box."""
    axes = [k for k, _ in open_sides]
    pairs = sum(axes.count(k) == 2 for k in range(3))
    n = len(open_sides)
    if n <= 1:
        return "pocket_blind"
    if n == 2:
        return "pocket_through" if pairs else "slot_blind"
    if n == 3:
        return "slot_through" if pairs else "step_blind"
    return "step_through"


def _depth(open_sides: list[tuple[int, str]], clo: np.ndarray, chi: np.ndarray, lo: np.ndarray,
           hi: np.ndarray) -> float:
    """Depth below the open side whose axis is not open on both ends (else the full extent)."""
    axes = [k for k, _ in open_sides]
    single = [(k, side) for k, side in open_sides if axes.count(k) == 1]
    if not single:
        return float(np.max(chi - clo))
    k = single[0][0]
    return float(chi[k] - clo[k])
