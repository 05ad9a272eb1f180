"""Tier 2: rule-based machining-feature recognition over the face adjacency graph.

Rules run in order, each claiming faces the earlier ones left:

1. holes: stacks of coaxial concave revolution faces whose cylinders (or, failing those, a cone)
   close a full turn, plus the planar annuli and floors between them (counterbore, countersink,
   drill point); through when no face closes the stack;
2. fillets: convex curved faces with a smooth (tangent) edge, and concave tori and spheres;
3. chamfers: planes whose normal is along no frame axis and cones outside hole stacks, with only
   convex edges;
4. turned parts (area mostly coaxial revolution faces and planes across that axis): grooves
   (an outer cylinder with only concave edges and its two walls), ``turn_od``, ``turn_face``;
5. bosses: outer cylinders closing a full turn that meet a plane across their axis on a concave
   edge, plus their caps (across a chamfer or round of the top edge too); prismatic islands:
   planar walls joined by convex edges into a closed loop, each on a base plane across a
   concave edge, plus the cap unless it is the uncut stock top;
6. stock: planes lying on the part's bounding box in its own frame (bosses left out);
7. depressions: what remains, in groups joined by concave and smooth edges and across concave
   blends; a side of a group's region (in the part frame) is open when no face of the group
   faces into it: 1 open side pocket_blind, 2 opposite pocket_through, 2 adjacent slot_blind, 3
   with an opposite pair slot_through, 3 at a corner step_blind, 4+ step_through. Counting walls
   rather than contacts with the part's box types a depression cut into another one (a slot in a
   step floor) by its own walls. Concave blends across the floor normal are floor fillets;
   along it, corner radii of the depression.

Everything is intrinsic (convexity, coaxiality, perpendicularity) or measured in the part frame
from dominant face normals, so rotated, moved and scaled copies get the same labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.brep_graph import BrepGraph, FaceInfo, is_parallel, is_perpendicular, same_line

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
    facing: float = 0.7                     # normal component that makes a face close a side


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
        find_prismatic_bosses(state)
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
    """Coaxial concave stacks that turn a full circle: plain, counterbored, countersunk, blind.

    A bore severed by a cross hole is one hole: coaxial stacks of the same bore radius that both
    open into the same other hole are merged before typing (through unless a floor closes it).
    """
    g = s.g
    cones = [[f.index] for f in g.faces if f.surface_type == "cone" and f.concave and f.span >= TOL.full_turn]
    taken: set[int] = set()
    stacks: list[tuple[int, set[int]]] = []
    # full-turn bores, then full-turn concave cones left over (a countersink that cuts right through)
    for seed in [*_full_turn_groups(g, concave=True), *cones]:
        if not all(s.free(i) and i not in taken for i in seed):
            continue
        stack = _grow_stack(g, set(seed))
        if any(not s.free(i) or i in taken for i in stack):
            continue
        taken |= stack
        stacks.append((seed[0], stack))
    stacks = _merge_severed(g, stacks)
    for ref, stack in stacks:
        blind = any(_closes(g, i, stack) for i in stack)
        kind = "hole_blind" if blind else "hole_through"
        s.add(kind, sorted(stack), CONFIDENCE["hole"], hole_dimensions(g, stack), g.faces[ref].axis)


def _merge_severed(g: BrepGraph, stacks: list[tuple[int, set[int]]]) -> list[tuple[int, set[int]]]:
    """Merge coaxial stacks with the same bore radius that both touch one other stack."""
    owner = {i: n for n, (_, st) in enumerate(stacks) for i in st}

    def touches(st: set[int]) -> set[int]:
        return {owner[j] for i in st for j in g.neighbours(i) if j in owner and j not in st}

    def bore(st: set[int]) -> float:
        return min((g.faces[i].radius or 0.0) for i in st if g.faces[i].surface_type in ("cylinder", "cone"))

    out = [(ref, set(st)) for ref, st in stacks]
    merged = True
    while merged:
        merged = False
        for a in range(len(out)):
            for b in range(a + 1, len(out)):
                (ra, sa), (rb, sb) = out[a], out[b]
                if not sa or not sb or not same_line(g.faces[ra], g.faces[rb], g.diagonal):
                    continue
                if abs(bore(sa) - bore(sb)) > 1e-3 * g.diagonal:
                    continue
                if (touches(sa) & touches(sb)) - {owner[next(iter(sa))], owner[next(iter(sb))]}:
                    sa |= sb
                    sb.clear()
                    merged = True
    return [(ref, st) for ref, st in out if st]


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
    """A floor: a one-wire plane all of whose neighbours are in the stack, or a drill point (a
    cone meeting the stack on one edge loop only: its apex closes it; a cone between two bores is a
    transition, not a floor)."""
    f = g.faces[i]
    inside = all(k in stack for k in g.neighbours(i))
    point = f.surface_type == "cone" and len(g.neighbours(i)) == 1
    return inside and ((f.surface_type == "plane" and f.wires == 1) or point)


def hole_dimensions(g: BrepGraph, stack: set[int]) -> dict[str, float]:
    """Diameter of the narrowest bore, depth along the axis, counterbore/countersink sizes."""
    faces = [g.faces[i] for i in stack]
    cyl = sorted({round(f.radius, 9) for f in faces if f.surface_type == "cylinder"})
    axis = next(f.axis for f in faces if f.axis is not None)
    pts = np.vstack([g.points[i] for i in stack if len(g.points[i])] or [np.zeros((1, 3))])
    proj = pts @ axis
    if not cyl:   # a countersink cut right through: the narrowest section of the cone
        ref = next(f for f in faces if f.axis is not None)
        rel = pts - ref.location
        rel -= np.outer(rel @ axis, axis)
        cyl = [float(np.linalg.norm(rel, axis=1).min())]
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
    # an outer diameter turning a full circle (not the stub of a bend or a blend)
    od = sum(f.span for f in rev if f.concave is False and f.surface_type == "cylinder"
             and same_line(f, best, g.diagonal))
    return best if od >= TOL.full_turn and coaxial / total >= TOL.turned_share else None


def _on_axis(g: BrepGraph, f: FaceInfo, axis: FaceInfo) -> bool:
    """A revolution face on the axis line, or a plane across it centred on it (a disc or annulus,
    not a flat panel that merely faces along the axis)."""
    if f.surface_type == "plane":
        if not is_parallel(f.normal, axis.axis):
            return False
        pts = g.points[f.index]
        if not len(pts):
            return True
        rel = pts - axis.location
        rel -= np.outer(rel @ axis.axis, axis.axis)
        c = f.centroid - axis.location
        c -= c.dot(axis.axis) * axis.axis
        return bool(np.linalg.norm(c) <= 0.25 * np.linalg.norm(rel, axis=1).max() + 1e-9 * g.diagonal)
    return f.axis is not None and same_line(f, axis, g.diagonal)


def find_turned(s: _State, axis: FaceInfo) -> None:
    """Grooves, outer diameters and faces of a turned part.

    A groove is a recess an ordinary turning tool cannot reach from either end: an outer cylinder
    with a larger diameter somewhere on each side of it along the axis (a plunge or recessing
    cut). Its faces are the recessed cylinders and the shoulders bounding them.
    """
    g = s.g
    recessed = [f.index for f in g.faces if s.free(f.index) and _is_recess(g, f, axis)]
    for comp in _connected(g, recessed):
        walls = sorted({j for i in comp for j, ks in g.neighbours(i).items()
                        if s.free(j) and j not in comp and g.faces[j].surface_type == "plane"
                        and is_parallel(g.faces[j].normal, axis.axis) and "concave" in ks})
        faces = [*comp, *walls]
        # a shoulder plane between two recessed cylinders links them into one groove
        s.add("groove", faces, CONFIDENCE["groove"],
              {"diameter": 2 * min(g.faces[i].radius or 0.0 for i in comp), "width": _extent(g, faces, axis.axis)},
              axis.axis)
    for f in g.faces:
        if not s.free(f.index) or not _on_axis(g, f, axis):
            continue
        if f.surface_type == "plane":
            s.add("turn_face", [f.index], CONFIDENCE["turn"], {"diameter": _radial(g, f.index, axis)}, axis.axis)
        elif not f.concave:
            s.add("turn_od", [f.index], CONFIDENCE["turn"],
                  {"diameter": 2 * (f.radius or 0.0), "length": _extent(g, [f.index], axis.axis)}, axis.axis)


def _is_recess(g: BrepGraph, f: FaceInfo, axis: FaceInfo) -> bool:
    """An outer coaxial cylinder with a larger outer cylinder wholly on each side along the axis."""
    if f.surface_type != "cylinder" or f.concave or not same_line(f, axis, g.diagonal) or not len(g.points[f.index]):
        return False
    tol = TOL.on_box_rel * g.diagonal
    proj = g.points[f.index] @ axis.axis
    lo, hi = float(proj.min()), float(proj.max())
    left = right = False
    for h in g.faces:
        if (h.index == f.index or h.surface_type != "cylinder" or h.concave or not len(g.points[h.index])
                or (h.radius or 0.0) <= (f.radius or 0.0) + tol or not same_line(h, axis, g.diagonal)):
            continue
        hp = g.points[h.index] @ axis.axis
        left |= bool(hp.max() <= lo + tol)
        right |= bool(hp.min() >= hi - tol)
    return left and right


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
        # the cap meets the boss directly, or across the chamfer or round of its top edge
        rim = set(group) | {j for i in group for j in g.neighbours(i)
                            if s.labels[j] in ("chamfer", "fillet") and g.faces[j].axis is not None
                            and same_line(g.faces[j], ref, g.diagonal)}
        for i in sorted(rim):
            for j, ks in g.neighbours(i).items():
                f = g.faces[j]
                if (s.free(j) and ks & {"convex", "smooth"} and f.surface_type == "plane"
                        and is_parallel(f.normal, ref.axis)
                        and all(k in faces or not s.free(k) for k in g.neighbours(j))):
                    faces.add(j)
        dims = {"diameter": 2 * ref.radius, "height": _extent(g, sorted(faces), ref.axis)}
        s.add("boss", sorted(faces), CONFIDENCE["boss"], dims, ref.axis)


def part_box(g: BrepGraph, exclude: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """Min and max corners of the part in its frame, leaving out ``exclude`` faces (all faces when
    that would leave none)."""
    pts = [g.points[i] for i in range(len(g.faces)) if i not in exclude and len(g.points[i])]
    if not pts:
        pts = [p for p in g.points if len(p)]
    allp = np.vstack(pts) @ g.frame.T if pts else np.zeros((1, 3))
    return allp.min(0), allp.max(0)


def find_stock(s: _State) -> None:
    """Planes with a frame-axis normal lying on the part's box, facing out."""
    g = s.g
    # the stock box: faces no earlier rule claimed (a hole through a boss reaches beyond the stock)
    claimed = {i for i, lab in enumerate(s.labels) if lab is not None}
    lo, hi = part_box(g, claimed)
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
    """Group the remaining faces and type each group by its open sides.

    Faces left by the earlier rules are grouped over concave and smooth edges, and through
    concave blends (floor fillets). Looking at a group in the part frame, a side of the removed
    region is closed when some face of the group faces into it (a wall or floor whose outward
    normal points across the region), and open otherwise; ``depression_kind`` maps the open sides
    to the class. Concave blend cylinders tangent to a floor (a plane no other face of the group
    faces) are floor fillets; those between two facing walls are the corner radii of the
    depression and stay in it.
    """
    g = s.g
    claimed = {i for i, lab in enumerate(s.labels) if lab is not None}
    lo, hi = part_box(g, claimed)
    links = {i for i, lab in enumerate(s.labels) if lab == "fillet" and g.faces[i].concave}
    for comp in _connected_through(g, [i for i in range(len(g.faces)) if s.free(i)], INWARD, links):
        fillets = floor_fillets(g, comp)
        if fillets:
            for part in _connected(g, fillets):
                s.add("fillet", part, CONFIDENCE["fillet"], {"radius": min(g.faces[i].radius or 0.0 for i in part)})
            comp = [i for i in comp if i not in fillets]
        pts = [g.points[i] for i in comp if len(g.points[i])]
        if not pts:
            continue
        local = np.vstack(pts) @ g.frame.T
        clo, chi = local.min(0), local.max(0)
        closed = closed_sides(g, comp)
        open_sides = [(k, side) for k in range(3) for side in ("min", "max") if (k, side) not in closed]
        kind = depression_kind(open_sides)
        size = np.sort(chi - clo)[::-1]
        dims = {"length": size[0], "width": size[1], "depth": _depth(open_sides, clo, chi, lo, hi)}
        s.add(kind, comp, CONFIDENCE["depression"], dims)


def _connected_through(g: BrepGraph, members: list[int], joins: frozenset[str], links: set[int]) -> list[list[int]]:
    """Components of ``members`` over ``joins`` edges, also joined across faces in ``links``."""
    member = set(members)
    comps = []
    for comp in _connected(g, members, joins):
        comps.append(set(comp))
    owner = {i: c for c, comp in enumerate(comps) for i in comp}
    parent = list(range(len(comps)))

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for link in _connected(g, sorted(links)):
        touched = {owner[j] for i in link for j in g.neighbours(i) if j in member}
        touched_roots = sorted({root(c) for c in touched})
        for c in touched_roots[1:]:
            parent[c] = touched_roots[0]
    merged: dict[int, list[int]] = {}
    for c, comp in enumerate(comps):
        merged.setdefault(root(c), []).extend(comp)
    return [sorted(v) for v in merged.values()]


def face_normals(g: BrepGraph, i: int) -> np.ndarray:
    """Outward unit normals of face ``i`` in the part frame: one row for a plane, one per sample
    point for a cylinder or cone (radial), none for other surfaces."""
    f = g.faces[i]
    if f.surface_type == "plane" and f.normal is not None:
        return (g.frame @ f.normal)[None, :]
    if f.surface_type in ("cylinder", "cone") and f.axis is not None and len(g.points[i]) and f.concave is not None:
        rel = g.points[i] - f.location
        rel -= np.outer(rel @ f.axis, f.axis)
        norm = np.linalg.norm(rel, axis=1)
        rel = rel[norm > 1e-12] / norm[norm > 1e-12, None]
        return (-rel if f.concave else rel) @ g.frame.T
    return np.zeros((0, 3))


def closed_sides(g: BrepGraph, faces: list[int]) -> set[tuple[int, str]]:
    """Sides (axis, min/max) of a face group's region that some face of it faces into."""
    closed: set[tuple[int, str]] = set()
    for i in faces:
        n = face_normals(g, i)
        if not len(n):
            continue
        for k in range(3):
            if (n[:, k] > TOL.facing).any():
                closed.add((k, "min"))
            if (n[:, k] < -TOL.facing).any():
                closed.add((k, "max"))
    return closed


def floor_fillets(g: BrepGraph, comp: list[int]) -> list[int]:
    """Concave partial cylinders of ``comp`` that blend its floor into a wall.

    The floor is the plane of the group that no other plane of it faces (the bottom of the cut
    along the tool axis), square to all its other planes, and that meets most of the group; a
    concave blend whose axis runs along the floor normal is a corner radius of the depression
    (left by the end mill), one across it is a fillet. A group without a floor (a through pocket) has corner radii only.
    """
    planes = [i for i in comp if g.faces[i].surface_type == "plane" and g.faces[i].normal is not None]
    floors = [j for j in planes if _unfaced(g, j, planes) and _across_walls(g, j, planes)]
    if not floors:
        return []
    members = set(comp)
    floor = max(floors, key=lambda j: (len(members & set(g.neighbours(j))), g.faces[j].area))
    out = []
    for i in comp:
        f = g.faces[i]
        if f.surface_type != "cylinder" or not f.concave or f.span >= TOL.full_turn or f.axis is None:
            continue
        tangent = [j for j, ks in g.neighbours(i).items() if "smooth" in ks and j in planes]
        if tangent and not is_parallel(f.axis, g.faces[floor].normal):
            out.append(i)
    return out


def _across_walls(g: BrepGraph, j: int, planes: list[int]) -> bool:
    """Every other plane is parallel or perpendicular to plane ``j`` (a floor under its walls)."""
    n = g.faces[j].normal
    return all(is_parallel(g.faces[k].normal, n) or is_perpendicular(g.faces[k].normal, n) for k in planes)


def _unfaced(g: BrepGraph, j: int, planes: list[int]) -> bool:
    """No plane of ``planes`` faces plane ``j`` (antiparallel normals)."""
    n = g.faces[j].normal
    return not any(g.faces[k].normal.dot(n) < -math.cos(math.radians(2.0)) for k in planes if k != j)


def find_prismatic_bosses(s: _State) -> None:
    """Islands standing on a floor: planar walls joined by convex edges into a closed loop around
    an axis ``d``, each meeting a base plane across ``d`` on a concave edge; with their cap when
    the cap is not on the stock box (then it is the uncut stock top)."""
    g = s.g
    for k, d in enumerate(g.frame):
        walls = [f.index for f in g.faces if s.free(f.index) and f.surface_type == "plane"
                 and f.normal is not None and is_perpendicular(f.normal, d)]
        for comp in _connected(g, walls, frozenset({"convex"})):
            if len(comp) < 3 or not _closed_loop(g, comp, k):
                continue
            bases = [_base_of(g, i, d) for i in comp]
            if any(b is None for b in bases):
                continue
            signs = {int(np.sign(g.faces[b].normal.dot(d))) for b in bases}
            if len(signs) != 1:
                continue
            up = signs.pop() * d
            caps = sorted({j for i in comp for j, ks in g.neighbours(i).items() if s.free(j) and "convex" in ks
                           and g.faces[j].surface_type == "plane" and g.faces[j].normal.dot(up) > 0.99})
            # the box of the rest of the part: is the cap above it (added) or on it (uncut stock)?
            lo, hi = part_box(g, {i for i, lab in enumerate(s.labels) if lab is not None} | set(comp) | set(caps))
            tol = TOL.on_box_rel * g.diagonal
            caps = [j for j in caps if not _on_box(g, j, lo, hi, tol)]
            faces = sorted({*comp, *caps})
            s.add("boss", faces, CONFIDENCE["boss"], {"height": _extent(g, faces, d)}, up)


def _closed_loop(g: BrepGraph, comp: list[int], k: int) -> bool:
    """Outward wall normals cover both senses of both axes across axis ``k``."""
    n = np.array([g.frame @ g.faces[i].normal for i in comp])
    others = [a for a in range(3) if a != k]
    return all((n[:, a] > TOL.facing).any() and (n[:, a] < -TOL.facing).any() for a in others)


def _base_of(g: BrepGraph, i: int, d: np.ndarray) -> int | None:
    """A plane across ``d`` meeting face ``i`` on a concave edge."""
    for j, ks in g.neighbours(i).items():
        f = g.faces[j]
        if "concave" in ks and f.surface_type == "plane" and f.normal is not None and is_parallel(f.normal, d):
            return j
    return None


def _on_box(g: BrepGraph, j: int, lo: np.ndarray, hi: np.ndarray, tol: float) -> bool:
    """Plane ``j`` lies on the part box on the side its normal points to."""
    f = g.faces[j]
    if not len(g.points[j]):
        return False
    for k, a in enumerate(g.frame):
        if is_parallel(f.normal, a):
            level = float(np.mean(g.points[j] @ a))
            up = f.normal.dot(a) > 0
            return bool(abs(level - (hi[k] if up else lo[k])) < tol)
    return False


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
