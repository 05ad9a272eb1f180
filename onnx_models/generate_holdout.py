"""Held-out labelled parts: feature combinations, varied proportions, rotated and scaled stock.

This generator is independent of ``generate_parts`` (it shares only the history-based face
labelling and the STEP round trip) and draws from a different distribution: several features per
part in combination (holes in pocket floors, slots cut into steps, counterbored and countersunk
holes on side faces, blind holes at the bottom of pockets, floor fillets, chamfered hole entries,
bosses with holes, through pockets next to slots, turned parts with several grooves and cross
holes), thin plates and tall blocks, tiny and large features, and every part rotated about an
arbitrary axis, scaled (units from 0.02x to 25x) and moved AFTER labelling.

Class definitions (the label of a face is the class of the operation that made it; the operation
is chosen so that its class holds by these definitions, whatever the part's orientation):

- ``stock``: faces of the raw stock (box or bar) left after machining.
- A *depression* is material removed by a prismatic cut whose walls are parallel to one cutting
  direction ``d`` (the tool axis). Its side faces are *walls*, a face across ``d`` facing out of
  the material is its *floor*. Looking along ``d``, the removed region has four lateral sides;
  a side is *open* when no wall bounds it (the cut runs out of the material there). Then:

  * ``pocket_blind``: floor, walls on all four sides (a closed wall loop around the floor);
  * ``pocket_through``: no floor (open along ``d`` at both ends), walls on all four sides;
  * ``slot_blind``: floor, walls on two opposite sides and on one end, one end open;
  * ``slot_through``: floor, walls on two opposite sides, both ends open;
  * ``step_blind``: floor, walls on two adjacent sides (an inside corner), two sides open;
  * ``step_through``: floor, a wall on one side only, three sides open.

  A depression cut into the floor of another one is typed by its own walls, relative to the
  material it cuts (a slot across a step's floor is a ``slot_through``). Corner radii of a pocket
  (blends whose axis is along ``d``, left by the end mill) belong to the depression.
- ``hole_through`` / ``hole_blind``: material removed by a drill: coaxial concave cylinders, plus
  the counterbore and countersink faces and the annuli between them, and the conical entry
  chamfer of the hole (a coaxial cone at the hole's mouth is a countersink, whatever its size).
  Through when the stack has no bottom (a flat or conical floor), wherever it starts (a hole in
  a pocket floor or in a boss is still a hole).
- ``boss``: material standing proud of a face (a cylinder, or a prism whose walls meet each
  other on convex edges in a closed loop), with its cap when the cap is above the stock.
- ``chamfer``: a bevel face replacing a convex edge of stock or of a boss (not of a hole).
- ``fillet``: a constant-radius blend face replacing an edge, convex (outer edge rounds) or
  concave (between a depression's floor and its walls).
- ``turn_od``, ``turn_face``, ``groove``: outer cylinders, faces across the axis, and the
  faces of a ring groove (its bottom cylinder and two walls) of a part turned about one axis.
  A cross hole through a turned part is a hole.

CLI: ``python -m onnx_models.generate_holdout --count N --seed S --out DIR``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from OCP.BRep import BRep_Tool
from OCP.BRepAdaptor import BRepAdaptor_Curve
from OCP.BRepAlgoAPI import BRepAlgoAPI_Cut, BRepAlgoAPI_Fuse
from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform
from OCP.BRepFilletAPI import BRepFilletAPI_MakeChamfer, BRepFilletAPI_MakeFillet
from OCP.BRepPrimAPI import BRepPrimAPI_MakeCone, BRepPrimAPI_MakeCylinder
from OCP.GeomAbs import GeomAbs_Circle
from OCP.gp import gp_Ax1, gp_Ax2, gp_Dir, gp_Pnt, gp_Trsf, gp_Vec
from OCP.TopAbs import TopAbs_EDGE
from OCP.TopExp import TopExp, TopExp_Explorer
from OCP.TopoDS import TopoDS, TopoDS_Shape

from onnx_models.generate_parts import (
    GeneratedPart,
    LabelledShape,
    apply_op,
    box,
    cylinder,
    labels_as_read,
    revolve_profile,
    rounded_box,
    shape_to_step,
    write_parts,
)
from pipelines.step_load import face_list

# ---- local frames on stock faces --------------------------------------------------------------

@dataclass(frozen=True)
class Side:
    """A planar stock face: origin corner, in-plane axes u, v (lengths lu, lv), outward normal n,
    and the material thickness behind it along -n."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    n: np.ndarray
    lu: float
    lv: float
    thick: float

    def trsf(self) -> gp_Trsf:
        """Local (x along u, y along v, z along n, origin at the corner) to part coordinates."""
        t = gp_Trsf()
        m = np.column_stack([self.u, self.v, self.n])
        t.SetValues(*m[0], self.origin[0], *m[1], self.origin[1], *m[2], self.origin[2])
        return t

    def place(self, shape: TopoDS_Shape) -> TopoDS_Shape:
        return BRepBuilderAPI_Transform(shape, self.trsf(), True).Shape()

    def point(self, x: float, y: float, z: float) -> np.ndarray:
        return self.origin + x * self.u + y * self.v + z * self.n


def box_sides(L: float, W: float, H: float) -> dict[str, Side]:
    """The six faces of the box [0,L]x[0,W]x[0,H] as right-handed local frames."""
    e = np.eye(3)
    return {
        "top": Side(np.array([0, 0, H]), e[0], e[1], e[2], L, W, H),
        "bottom": Side(np.array([0, W, 0]), e[0], -e[1], -e[2], L, W, H),
        "front": Side(np.array([0, 0, 0]), e[0], e[2], -e[1], L, H, W),
        "back": Side(np.array([L, W, 0]), -e[0], e[2], e[1], L, H, W),
        "left": Side(np.array([0, W, 0]), -e[1], e[2], -e[0], W, H, L),
        "right": Side(np.array([L, 0, 0]), e[1], e[2], e[0], W, H, L),
    }


def _edges(shape: TopoDS_Shape, test: Callable[[np.ndarray, np.ndarray], bool]) -> list:
    out, seen = [], []
    exp = TopExp_Explorer(shape, TopAbs_EDGE)
    while exp.More():
        e = TopoDS.Edge(exp.Current())
        exp.Next()
        if BRep_Tool.Degenerated_s(e) or any(e.IsSame(s) for s in seen):
            continue
        a = np.array(BRep_Tool.Pnt_s(TopExp.FirstVertex_s(e)).Coord())
        b = np.array(BRep_Tool.Pnt_s(TopExp.LastVertex_s(e)).Coord())
        if test(a, b):
            seen.append(e)
            out.append(e)
    return out


def _circle_edges(shape: TopoDS_Shape, centre: np.ndarray, radius: float, tol: float) -> list:
    """Circular edges of ``radius`` centred at ``centre``."""
    out = []
    for e in _edges(shape, lambda a, b: True):
        c = BRepAdaptor_Curve(e)
        if c.GetType() != GeomAbs_Circle:
            continue
        circ = c.Circle()
        loc = np.array(circ.Location().Coord())
        if abs(circ.Radius() - radius) < tol and np.linalg.norm(loc - centre) < tol:
            out.append(e)
    return out


# ---- labelled operations (failures leave the part unchanged) ----------------------------------

def _ok(part: LabelledShape, op: object, label: str) -> LabelledShape:
    if not op.IsDone():
        return part
    out = apply_op(part, op, label)
    return out if len(out.labels) else part


def cut(part: LabelledShape, tool: TopoDS_Shape, label: str) -> LabelledShape:
    return _ok(part, BRepAlgoAPI_Cut(part.shape, tool), label)


def fuse(part: LabelledShape, tool: TopoDS_Shape, label: str) -> LabelledShape:
    return _ok(part, BRepAlgoAPI_Fuse(part.shape, tool), label)


def blend(part: LabelledShape, edges: list, size: float, label: str) -> LabelledShape:
    if not edges:
        return part
    op = BRepFilletAPI_MakeChamfer(part.shape) if label == "chamfer" else BRepFilletAPI_MakeFillet(part.shape)
    for e in edges:
        op.Add(size, e)
    try:
        op.Build()
    except Exception:  # OCCT Standard_Failure on an impossible blend
        return part
    return _ok(part, op, label)


# ---- features on a side (local coordinates: z = 0 on the face, material at z < 0) -------------

def drill(part: LabelledShape, side: Side, x: float, y: float, r: float, depth: float | None,
          rng: np.random.Generator, z_top: float = 0.0, entry: str = "plain") -> LabelledShape:
    """A hole from local height ``z_top`` down by ``depth`` (None: through), with an entry
    (plain, counterbore, countersink, chamfer); all its faces are hole faces."""
    kind = "hole_blind" if depth is not None else "hole_through"
    through = side.thick + abs(z_top) + 2
    if entry == "counterbore":
        cb = rng.uniform(1.4, 1.9) * r
        d_cb = rng.uniform(0.15, 0.35) * (depth if depth is not None else side.thick)
        part = cut(part, side.place(cylinder(x, y, z_top - d_cb, cb, d_cb + 1)), kind)
    elif entry in ("countersink", "chamfer"):
        c = (rng.uniform(0.4, 0.8) if entry == "countersink" else rng.uniform(0.1, 0.25)) * r
        cone = BRepPrimAPI_MakeCone(gp_Ax2(gp_Pnt(x, y, z_top - c), gp_Dir(0, 0, 1)), r, r + c + 1.0, c + 1.0)
        part = cut(part, side.place(cone.Shape()), kind)
    z0 = z_top - depth if depth is not None else z_top - through
    return cut(part, side.place(cylinder(x, y, z0, r, z_top - z0 + 1)), kind)


def pocket(part: LabelledShape, side: Side, x0: float, y0: float, x1: float, y1: float, depth: float | None,
           r: float, z_top: float = 0.0) -> LabelledShape:
    """A pocket under local height ``z_top``: blind ``depth`` or through (None)."""
    kind = "pocket_blind" if depth is not None else "pocket_through"
    z0 = z_top - depth if depth is not None else -side.thick - 1
    return cut(part, side.place(rounded_box(x0, y0, z0, x1, y1, z_top + 1, r)), kind)


def floor_fillet(part: LabelledShape, side: Side, x0: float, y0: float, x1: float, y1: float, z: float,
                 size: float) -> LabelledShape:
    """Round the straight edges of a pocket floor at local height ``z`` inside [x0,x1]x[y0,y1]."""
    lo = side.point(x0, y0, z)
    hi = side.point(x1, y1, z)
    bmin, bmax = np.minimum(lo, hi) - 1e-6, np.maximum(lo, hi) + 1e-6
    level = float(side.point(0, 0, z) @ side.n)

    def inside(a: np.ndarray, b: np.ndarray) -> bool:
        return (abs(a @ side.n - level) < 1e-6 and abs(b @ side.n - level) < 1e-6
                and bool(np.all(a >= bmin) and np.all(a <= bmax) and np.all(b >= bmin) and np.all(b <= bmax)))

    return blend(part, _edges(part.shape, inside), size, "fillet")


# ---- prismatic composites ---------------------------------------------------------------------

def _proportions(rng: np.random.Generator) -> tuple[float, float, float, str]:
    shape = str(rng.choice(["plate", "block", "tall"], p=[0.35, 0.4, 0.25]))
    if shape == "plate":
        return rng.uniform(90, 200), rng.uniform(60, 140), rng.uniform(5, 12), shape
    if shape == "tall":
        return rng.uniform(40, 70), rng.uniform(35, 60), rng.uniform(70, 130), shape
    return rng.uniform(60, 120), rng.uniform(45, 90), rng.uniform(25, 50), shape


def prismatic(rng: np.random.Generator) -> LabelledShape:
    """A box with 2-4 composite features in bands along its longest top edge, side holes, blends."""
    L, W, H, shape = _proportions(rng)
    part = LabelledShape(box(0, 0, 0, L, W, H), ["stock"] * 6, "prismatic", ["stock"])
    sides = box_sides(L, W, H)
    top = sides["top"]
    bands = int(rng.integers(2, 5)) if L > 80 else 2
    xs = np.linspace(0, L, bands + 1)
    for i in range(bands):
        end = "min" if i == 0 else ("max" if i == bands - 1 else None)
        part = top_composite(part, rng, top, float(xs[i]), float(xs[i + 1]), end, shape)
    if shape != "plate":
        part = second_face(part, rng, sides, shape)
        part = side_holes(part, rng, sides, L, W, H)
    part = stock_blends(part, rng, L, W, H)
    return part


def second_face(part: LabelledShape, rng: np.random.Generator, sides: dict[str, Side], shape: str) -> LabelledShape:
    """A shallow composite feature on a side face, kept only when it leaves every earlier
    feature face untouched (features meeting across faces would have no principled label)."""
    if rng.random() < 0.4:
        return part
    side = sides[str(rng.choice(["front", "right", "bottom"]))]
    shallow = Side(side.origin, side.u, side.v, side.n, side.lu, side.lv, 0.3 * side.thick)
    x0, x1 = sorted(rng.uniform(0.0, 1.0, 2) * side.lu)
    if x1 - x0 < 0.3 * side.lu:
        x0, x1 = 0.2 * side.lu, 0.7 * side.lu
    out = top_composite(part, rng, shallow, float(x0), float(x1), None, shape, through_ok=False)
    return out if _untouched(part, out) else part


def _untouched(before: LabelledShape, after: LabelledShape) -> bool:
    """Every non-stock face of ``before`` is still a face of ``after``, unmodified."""
    from pipelines.step_heal import shape_map_of

    index = shape_map_of(face_list(after.shape))
    return all(index.FindIndex(f) for f, lab in zip(face_list(before.shape), before.labels, strict=True)
               if lab != "stock")


def top_composite(part: LabelledShape, rng: np.random.Generator, top: Side, x0: float, x1: float,
                  end: str | None, shape: str, through_ok: bool = True) -> LabelledShape:
    """One combination of features in the band x0..x1 of a face (``top`` need not be the top:
    its ``thick`` bounds the depths); without ``through_ok``, no cut goes through the part."""
    W, H = top.lv, top.thick
    bw, xc = x1 - x0, 0.5 * (x0 + x1)
    choices = ["pocket_hole", "pocket_blind_hole", "pocket_fillet", "pocket_slot", "boss_hole", "hole_group",
               "chamfer_hole", "obround_slot", "l_pocket", "boss_chamfer", "rect_boss"]
    if end:
        choices += ["step_slot", "step_slot", "step_hole", "step_blind_hole", "step_blind_hole"]
    if shape == "plate":
        choices = [c for c in choices if c not in ("pocket_fillet", "boss_hole", "boss_chamfer", "rect_boss")]
        choices += ["cutout"]
    if not through_ok:
        choices = ["pocket_blind_hole", "pocket_fillet", "obround_slot", "l_pocket", "boss_chamfer", "hole_group",
                   "rect_boss"]
    kind = str(rng.choice(choices))
    room = min(bw, W)
    if kind in ("pocket_hole", "pocket_blind_hole", "pocket_fillet"):
        a, b = rng.uniform(0.5, 0.8) * bw, rng.uniform(0.4, 0.75) * W
        yc = rng.uniform(b / 2 + 0.08 * W, W - b / 2 - 0.08 * W)
        depth = rng.uniform(0.2, 0.5) * H
        r = rng.uniform(0.06, 0.18) * min(a, b) if rng.random() < 0.6 else 0.0
        part = pocket(part, top, xc - a / 2, yc - b / 2, xc + a / 2, yc + b / 2, depth, r)
        if kind == "pocket_fillet":
            if r == 0.0:
                part = floor_fillet(part, top, xc - a / 2, yc - b / 2, xc + a / 2, yc + b / 2, -depth,
                                    rng.uniform(0.1, 0.3) * depth)
            return part
        hr = rng.uniform(0.06, 0.2) * min(a, b)
        blind = kind == "pocket_blind_hole"
        hd = rng.uniform(0.2, 0.6) * (H - depth) if blind else None
        return drill(part, top, xc, yc, hr, hd, rng, z_top=-depth,
                     entry="plain" if blind else str(rng.choice(["plain", "counterbore"])))
    if kind == "obround_slot":
        # a slot with a round (end-mill) end, open at one or both sides of the face
        w = rng.uniform(0.3, 0.6) * bw
        depth = rng.uniform(0.2, 0.5) * H
        ylen = rng.uniform(0.4, 0.75) * W
        both = rng.random() < 0.3 and through_ok
        tool = box(xc - w / 2, -1, -depth, xc + w / 2, ylen, 1)
        tool = BRepAlgoAPI_Fuse(tool, cylinder(xc, ylen, -depth, w / 2, depth + 1)).Shape() if not both else \
            box(xc - w / 2, -1, -depth, xc + w / 2, W + 1, 1)
        return cut(part, top.place(tool), "slot_through" if both else "slot_blind")
    if kind == "l_pocket":
        # a general (L-shaped) pocket: two overlapping rectangles with corner radii
        depth = rng.uniform(0.2, 0.5) * H
        a0, a1 = x0 + 0.1 * bw, x1 - 0.1 * bw
        b0, b1 = 0.15 * W, 0.85 * W
        am, bm = a0 + rng.uniform(0.35, 0.6) * (a1 - a0), b0 + rng.uniform(0.35, 0.6) * (b1 - b0)
        r = rng.uniform(0.05, 0.12) * min(a1 - a0, b1 - b0)
        legs = BRepAlgoAPI_Fuse(rounded_box(a0, b0, -depth, a1, bm, 1, r), rounded_box(a0, b0, -depth, am, b1, 1, r))
        legs.SimplifyResult()
        return cut(part, top.place(legs.Shape()), "pocket_blind")
    if kind == "boss_chamfer":
        r = rng.uniform(0.15, 0.3) * room
        h = rng.uniform(0.15, 0.5) * H
        yc = rng.uniform(0.35, 0.65) * W
        part = fuse(part, top.place(cylinder(xc, yc, 0, r, h)), "boss")
        edges = _circle_edges(part.shape, top.point(xc, yc, h), r, 1e-6)
        label = str(rng.choice(["chamfer", "fillet"]))
        return blend(part, edges, rng.uniform(0.08, 0.2) * min(r, h), label)
    if kind == "rect_boss":
        # a rectangular boss standing on the face, with a hole into it or a pocket around it
        a, b = rng.uniform(0.25, 0.5) * bw, rng.uniform(0.2, 0.45) * W
        yc = rng.uniform(b / 2 + 0.1 * W, W - b / 2 - 0.1 * W)
        h = rng.uniform(0.1, 0.4) * H
        part = fuse(part, top.place(box(xc - a / 2, yc - b / 2, 0, xc + a / 2, yc + b / 2, h)), "boss")
        if rng.random() < 0.5:
            return drill(part, top, xc, yc, rng.uniform(0.1, 0.3) * min(a, b), rng.uniform(0.5, 1.2) * h, rng, z_top=h)
        return part
    if kind == "pocket_slot":
        # a through pocket in one half of the band and a slot across the whole width in the other
        split = x0 + rng.uniform(0.45, 0.55) * bw
        a0, a1 = x0 + 0.1 * bw, split - 0.05 * bw
        b = rng.uniform(0.3, 0.6) * W
        yc = rng.uniform(b / 2 + 0.1 * W, W - b / 2 - 0.1 * W)
        part = pocket(part, top, a0, yc - b / 2, a1, yc + b / 2, None, 0.0)
        w = rng.uniform(0.35, 0.7) * (x1 - split)
        sc = 0.5 * (split + x1)
        sdepth = rng.uniform(0.2, 0.5) * H
        blind = rng.random() < 0.4
        y1 = rng.uniform(0.5, 0.8) * W if blind else W + 1
        return cut(part, top.place(box(sc - w / 2, -1, -sdepth, sc + w / 2, y1, 1)),
                   "slot_blind" if blind else "slot_through")
    if kind == "boss_hole":
        r = rng.uniform(0.15, 0.3) * room
        h = rng.uniform(0.15, 0.5) * H
        yc = rng.uniform(0.35, 0.65) * W
        part = fuse(part, top.place(cylinder(xc, yc, 0, r, h)), "boss")
        hr = rng.uniform(0.3, 0.6) * r
        if rng.random() < 0.5:
            return drill(part, top, xc, yc, hr, None, rng, z_top=h)
        return drill(part, top, xc, yc, hr, rng.uniform(0.5, 1.5) * h, rng, z_top=h)
    if kind in ("hole_group", "chamfer_hole"):
        n = int(rng.integers(2, 5)) if kind == "hole_group" else 1
        tiny = rng.random() < 0.3
        for k in range(n):
            r = (rng.uniform(0.015, 0.03) if tiny else rng.uniform(0.05, 0.1)) * room
            y = (k + 1) * W / (n + 1)
            x = xc + rng.uniform(-0.2, 0.2) * bw
            entry = "chamfer" if kind == "chamfer_hole" else str(rng.choice(["plain", "countersink", "counterbore"]))
            through = through_ok and (rng.random() < 0.6 or shape == "plate")
            depth = None if through else rng.uniform(0.3, 0.7) * H
            part = drill(part, top, x, y, r, depth, rng, entry=entry)
        return part
    if kind == "cutout":
        a, b = rng.uniform(0.4, 0.7) * bw, rng.uniform(0.3, 0.6) * W
        yc = rng.uniform(b / 2 + 0.1 * W, W - b / 2 - 0.1 * W)
        r = rng.uniform(0.1, 0.25) * min(a, b) if rng.random() < 0.5 else 0.0
        part = pocket(part, top, xc - a / 2, yc - b / 2, xc + a / 2, yc + b / 2, None, r)
        return drill(part, top, xc, rng.uniform(0.03, 0.08) * W + 3, rng.uniform(1.0, 2.5), None, rng)
    # steps at an end of the part, with a slot or hole in the step floor
    s, depth = rng.uniform(0.5, 0.9) * bw, rng.uniform(0.3, 0.6) * H
    blind = kind == "step_blind_hole"
    y1 = rng.uniform(0.4, 0.7) * W if blind else W + 1
    xa, xb = (-1.0, x0 + s) if end == "min" else (x1 - s, top.lu + 1)
    part = cut(part, top.place(box(xa, -1, -depth, xb, y1, 1)), "step_blind" if blind else "step_through")
    fx0, fx1 = max(xa, 0.0), min(xb, top.lu)
    fc = 0.5 * (fx0 + fx1)
    if kind == "step_slot":
        w = rng.uniform(0.2, 0.4) * (fx1 - fx0)
        sd = rng.uniform(0.15, 0.4) * (H - depth)
        return cut(part, top.place(box(fc - w / 2, -1, -depth - sd, fc + w / 2, W + 1, -depth + 0.5)), "slot_through")
    yc = (0.5 * y1) if blind else rng.uniform(0.3, 0.7) * W
    hr = rng.uniform(0.08, 0.15) * min(fx1 - fx0, y1 if blind else W)
    return drill(part, top, fc, yc, hr, None if rng.random() < 0.5 else 0.5 * (H - depth), rng,
                 z_top=-depth, entry=str(rng.choice(["plain", "countersink", "counterbore"])))


def side_holes(part: LabelledShape, rng: np.random.Generator, sides: dict[str, Side], L: float, W: float,
               H: float) -> LabelledShape:
    """Counterbored, countersunk or plain blind holes into one or two side faces, placed where they
    meet no earlier feature (a hole breaking into a pocket would have no principled label)."""
    for name in rng.permutation(["front", "back", "left", "right"])[: int(rng.integers(1, 3))]:
        side = sides[str(name)]
        for _ in range(6):
            r = rng.uniform(0.04, 0.08) * min(side.lu, side.lv)
            y = rng.uniform(0.15, 0.45) * side.lv
            x = rng.uniform(0.2, 0.8) * side.lu
            depth = rng.uniform(0.15, 0.3) * side.thick
            reach = cylinder(x, y, -depth - r, 1.9 * r + 0.1 * side.thick, depth + r + 1)
            if not _meets_features(part, side.place(reach)):
                entry = str(rng.choice(["counterbore", "countersink", "plain"]))
                part = drill(part, side, x, y, r, depth, rng, entry=entry)
                break
    return part


def _meets_features(part: LabelledShape, tool: TopoDS_Shape) -> bool:
    """True when ``tool``'s bounding box overlaps that of any non-stock face of the part."""
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib

    probe = Bnd_Box()
    BRepBndLib.Add_s(tool, probe)
    for face, label in zip(face_list(part.shape), part.labels, strict=True):
        if label == "stock":
            continue
        box = Bnd_Box()
        BRepBndLib.Add_s(face, box)
        if not box.IsOut(probe):
            return True
    return False


def stock_blends(part: LabelledShape, rng: np.random.Generator, L: float, W: float, H: float) -> LabelledShape:
    """Chamfer or round the four vertical (or bottom) edges of the stock."""
    which = str(rng.choice(["none", "chamfer", "fillet"], p=[0.4, 0.3, 0.3]))
    if which == "none":
        return part
    size = rng.uniform(0.03, 0.08) * min(L, W, H if H > 20 else 1e9)
    if rng.random() < 0.5:
        test = lambda a, b: abs(a[2] - b[2]) > 0.9 * H and _on_corner(a, L, W)  # noqa: E731
    else:
        test = lambda a, b: a[2] < 1e-6 and b[2] < 1e-6 and _on_rim(a, b, L, W)  # noqa: E731
    return blend(part, _edges(part.shape, test), min(size, 0.3 * H), which)


def _on_corner(a: np.ndarray, L: float, W: float) -> bool:
    return (abs(a[0]) < 1e-6 or abs(a[0] - L) < 1e-6) and (abs(a[1]) < 1e-6 or abs(a[1] - W) < 1e-6)


def _on_rim(a: np.ndarray, b: np.ndarray, L: float, W: float) -> bool:
    both = np.vstack([a, b])
    return bool(np.all(np.abs(both[:, 0]) < 1e-6) or np.all(np.abs(both[:, 0] - L) < 1e-6)
                or np.all(np.abs(both[:, 1]) < 1e-6) or np.all(np.abs(both[:, 1] - W) < 1e-6))


# ---- turned parts -----------------------------------------------------------------------------

def turned(rng: np.random.Generator) -> LabelledShape:
    """A stepped shaft with one to three grooves, an optional cross hole and axial bore."""
    n = int(rng.integers(3, 6))
    lengths = rng.uniform(8, 40, n)
    radii = rng.uniform(6, 30, n)
    z = np.concatenate([[0.0], np.cumsum(lengths)])
    part = revolved(radii, z)
    order = rng.permutation(n)[: int(rng.integers(1, 4))]
    for i in order:
        if lengths[i] < 12:
            continue
        w = rng.uniform(0.12, 0.3) * lengths[i]
        zc = z[i] + lengths[i] * rng.uniform(0.35, 0.65)
        r_in = radii[i] * rng.uniform(0.7, 0.9)
        ring = BRepAlgoAPI_Cut(cylinder(0, 0, zc - w / 2, radii[i] + 2, w), cylinder(0, 0, zc - w / 2 - 1, r_in, w + 2))
        part = cut(part, ring.Shape(), "groove")
    if rng.random() < 0.6:
        i = int(np.argmax(lengths))
        zc = z[i] + lengths[i] * rng.choice([0.15, 0.85])
        rh = rng.uniform(0.1, 0.3) * min(radii[i], lengths[i] * 0.15 / 0.3)
        tool = BRepPrimAPI_MakeCylinder(gp_Ax2(gp_Pnt(-radii[i] - 2, 0, zc), gp_Dir(1, 0, 0)), rh,
                                        2 * radii[i] + 4).Shape()
        part = cut(part, tool, "hole_through")
    if rng.random() < 0.5:
        rb = rng.uniform(0.2, 0.4) * min(radii)
        depth = rng.uniform(0.2, 0.5) * z[-1]
        part = cut(part, cylinder(0, 0, z[-1] - depth, rb, depth + 1), "hole_blind")
    if rng.random() < 0.5:
        edges = _circle_edges(part.shape, np.array([0, 0, 0.0]), float(radii[0]), 1e-6)
        part = blend(part, edges, rng.uniform(0.05, 0.12) * radii[0], str(rng.choice(["chamfer", "fillet"])))
    part.kind = "turned"
    return part


def revolved(radii: np.ndarray, z: np.ndarray) -> LabelledShape:
    """A stepped shaft of ``radii`` between stations ``z`` revolved about Z, labelled by profile."""
    return revolve_profile(radii, z, label=lambda f: _profile_label(f, radii, z))


def _profile_label(f: object, radii: np.ndarray, z: np.ndarray) -> str:
    """``turn_od``/``turn_face`` of a revolved profile, ``groove`` for a recess: a diameter with a
    larger one somewhere on each side (an ordinary turning tool reaches it from neither end, it
    takes a plunge or recessing cut), and the shoulders bounding recessed diameters."""
    valleys = [i for i in range(1, len(radii) - 1) if radii[i] < min(radii[:i].max(), radii[i + 1:].max())]
    if f.surface_type == "cylinder":
        i = int(np.argmin(np.abs(z[:-1] + z[1:] - 2 * f.centroid[2]) + 1e3 * np.abs(radii - f.radius)))
        return "groove" if i in valleys else "turn_od"
    for i in valleys:
        for zz in (z[i], z[i + 1]):
            if abs(f.centroid[2] - zz) < 1e-6 and f.normal is not None and abs(f.normal[2]) > 0.99:
                return "groove"
    return "turn_face"


# ---- output -----------------------------------------------------------------------------------

def make_holdout(seed: int) -> LabelledShape:
    """The labelled shape for ``seed`` (about one in five turned), before rotation and scaling."""
    rng = np.random.default_rng([seed, 0x401D])
    return turned(rng) if rng.random() < 0.2 else prismatic(rng)


def placement(seed: int) -> gp_Trsf:
    """Rotation about an arbitrary axis, a units scale and a translation, applied after labelling."""
    rng = np.random.default_rng([seed, 0x7A5])
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    rot, scl, move = gp_Trsf(), gp_Trsf(), gp_Trsf()
    rot.SetRotation(gp_Ax1(gp_Pnt(0, 0, 0), gp_Dir(*axis)), float(rng.uniform(0, 2 * math.pi)))
    scl.SetScale(gp_Pnt(0, 0, 0), float(rng.choice([1 / 25.4, 0.1, 1.0, 1.0, 2.5, 25.4])))
    move.SetTranslation(gp_Vec(*(float(v) for v in rng.uniform(-2000, 2000, 3))))
    return move.Multiplied(scl.Multiplied(rot))


def generate_holdout(seed: int, place: bool = True) -> GeneratedPart:
    """STEP bytes and true labels (as read) of held-out part ``seed``, placed unless ``place`` is False."""
    return to_part(make_holdout(seed), seed, place)


def to_part(part: LabelledShape, seed: int = 0, place: bool = True) -> GeneratedPart:
    """A labelled shape as STEP bytes with labels as read, placed by ``placement(seed)``."""
    shape = BRepBuilderAPI_Transform(part.shape, placement(seed), True).Shape() if place else part.shape
    step = shape_to_step(shape)
    labels = labels_as_read(shape, part.labels, step)
    return GeneratedPart(step, labels, part.kind, sorted(set(part.features)), seed)


def main(argv: list[str] | None = None) -> int:
    return write_parts(generate_holdout, "holdout", 1000, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
