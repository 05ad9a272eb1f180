"""Labelled machined parts built with OCP, for tests, benchmarks and model training.

A part is a stock (a box, or a turned profile) with features cut, fused or blended in; every
face carries the class of the operation that made it, tracked through each operation's history
(``Modified``/``IsDeleted``; faces an operation creates get its label). Labels are returned in
the project's face-index order of the part as read back from its STEP file (faces matched by
area centroid after the round trip). Deterministic from a seed.

CLI: ``python -m onnx_models.generate_parts --count N --seed S --out DIR`` writes
``part_XXXX.step`` and ``part_XXXX.json`` (``{"labels": [...], "kind": ..., "features": [...]}``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from OCP.BRepAlgoAPI import BRepAlgoAPI_Cut, BRepAlgoAPI_Fuse
from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeFace, BRepBuilderAPI_MakePolygon, BRepBuilderAPI_Transform
from OCP.BRepFilletAPI import BRepFilletAPI_MakeChamfer, BRepFilletAPI_MakeFillet
from OCP.BRepPrimAPI import BRepPrimAPI_MakeBox, BRepPrimAPI_MakeCone, BRepPrimAPI_MakeCylinder, BRepPrimAPI_MakeRevol
from OCP.gp import gp_Ax1, gp_Ax2, gp_Dir, gp_Pnt, gp_Trsf, gp_Vec
from OCP.STEPControl import STEPControl_AsIs, STEPControl_Writer
from OCP.TopAbs import TopAbs_EDGE
from OCP.TopExp import TopExp_Explorer
from OCP.TopoDS import TopoDS, TopoDS_Shape

from pipelines.brep_graph import describe_face
from pipelines.step_heal import face_centroid, shape_map_of
from pipelines.step_load import face_list, parse_step, silence_occt

Z = gp_Dir(0, 0, 1)


@dataclass
class LabelledShape:
    """A shape and the label of each of its faces, in its face-index order."""

    shape: TopoDS_Shape
    labels: list[str]
    kind: str = "prismatic"
    features: list[str] = field(default_factory=list)


@dataclass
class GeneratedPart:
    """A part as STEP bytes with true labels in the face-index order of the file as read."""

    step: bytes
    labels: list[str]
    kind: str
    features: list[str]
    seed: int


# ---- history tracking -------------------------------------------------------------------------

def apply_op(part: LabelledShape, op: object, label: str) -> LabelledShape:
    """Carry labels through one operation; faces the operation creates get ``label``."""
    new_shape = op.Shape()
    new_faces = face_list(new_shape)
    index = shape_map_of(new_faces)
    out: list[str | None] = [None] * len(new_faces)
    for face, old in zip(face_list(part.shape), part.labels, strict=True):
        if op.IsDeleted(face):
            continue
        mods = op.Modified(face)
        images = list(mods) if mods.Size() else [face]
        for image in images:
            k = index.FindIndex(image)
            if k:
                out[k - 1] = old
    labels = [lab if lab is not None else label for lab in out]
    return LabelledShape(new_shape, labels, part.kind, [*part.features, label])


def cut(part: LabelledShape, tool: TopoDS_Shape, label: str) -> LabelledShape:
    """Boolean cut of ``tool`` from the part; the tool's faces get ``label``."""
    return apply_op(part, BRepAlgoAPI_Cut(part.shape, tool), label)


def fuse(part: LabelledShape, tool: TopoDS_Shape, label: str) -> LabelledShape:
    """Boolean fuse of ``tool`` onto the part; the tool's faces get ``label``."""
    return apply_op(part, BRepAlgoAPI_Fuse(part.shape, tool), label)


def blend(part: LabelledShape, edges: list, size: float, label: str) -> LabelledShape:
    """Chamfer or fillet ``edges`` with ``size``; new faces get ``label``."""
    op = BRepFilletAPI_MakeChamfer(part.shape) if label == "chamfer" else BRepFilletAPI_MakeFillet(part.shape)
    for e in edges:
        op.Add(size, e)
    op.Build()
    if not op.IsDone():
        return part
    return apply_op(part, op, label)


# ---- primitives -------------------------------------------------------------------------------

def box(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float) -> TopoDS_Shape:
    """An axis-aligned box between two corners (given in any order)."""
    return BRepPrimAPI_MakeBox(gp_Pnt(min(x0, x1), min(y0, y1), min(z0, z1)),
                               gp_Pnt(max(x0, x1), max(y0, y1), max(z0, z1))).Shape()


def cylinder(x: float, y: float, z0: float, r: float, h: float) -> TopoDS_Shape:
    """A vertical cylinder of radius ``r`` from ``z0`` up by ``h``."""
    return BRepPrimAPI_MakeCylinder(gp_Ax2(gp_Pnt(x, y, z0), Z), r, h).Shape()


def rounded_box(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, r: float) -> TopoDS_Shape:
    """A box with its vertical edges rounded by ``r`` (a pocket tool with corner radii)."""
    shape = box(x0, y0, z0, x1, y1, z1)
    if r <= 0:
        return shape
    op = BRepFilletAPI_MakeFillet(shape)
    for e in edges_where(shape, lambda a, b: abs(a[2] - b[2]) > 1e-6):
        op.Add(r, e)
    op.Build()
    return op.Shape() if op.IsDone() else shape


def edges_where(shape: TopoDS_Shape, test: Callable[[np.ndarray, np.ndarray], bool]) -> list:
    """Straight edges whose end points pass ``test(start, end)``."""
    from OCP.BRep import BRep_Tool
    from OCP.TopExp import TopExp

    out, seen = [], set()
    exp = TopExp_Explorer(shape, TopAbs_EDGE)
    while exp.More():
        e = TopoDS.Edge(exp.Current())
        exp.Next()
        a = np.array(BRep_Tool.Pnt_s(TopExp.FirstVertex_s(e)).Coord())
        b = np.array(BRep_Tool.Pnt_s(TopExp.LastVertex_s(e)).Coord())
        if hash(e) not in seen and test(a, b):
            seen.add(hash(e))
            out.append(e)
    return out


# ---- prismatic parts --------------------------------------------------------------------------

def prismatic_part(rng: np.random.Generator, kind: str | None = None) -> LabelledShape:
    """A box stock with 2-4 features in bands along x and optional bottom-edge blends.

    With ``kind``, the part holds that one feature class (in the first band, or as the blend).
    """
    L, W, H = rng.uniform(70, 140), rng.uniform(40, 90), rng.uniform(16, 40)
    part = LabelledShape(box(0, 0, 0, L, W, H), ["stock"] * 6)
    if kind:
        blend_kind = kind if kind in ("chamfer", "fillet") else "none"
    else:
        blend_kind = rng.choice(["none", "chamfer", "fillet"], p=[0.4, 0.3, 0.3])
    if blend_kind != "none":
        size = rng.uniform(0.06, 0.14) * H
        pick = rng.permutation(4)[: rng.integers(1, 5)]
        lines = [lambda a, b: a[2] < 1e-6 and b[2] < 1e-6 and abs(a[1] - b[1]) < 1e-6 and abs(a[1]) < 1e-6,
                 lambda a, b: a[2] < 1e-6 and b[2] < 1e-6 and abs(a[1] - b[1]) < 1e-6 and abs(a[1] - W) < 1e-6,
                 lambda a, b: a[2] < 1e-6 and b[2] < 1e-6 and abs(a[0] - b[0]) < 1e-6 and abs(a[0]) < 1e-6,
                 lambda a, b: a[2] < 1e-6 and b[2] < 1e-6 and abs(a[0] - b[0]) < 1e-6 and abs(a[0] - L) < 1e-6]
        edges = [e for i in pick for e in edges_where(part.shape, lines[i])]
        part = blend(part, edges, size, str(blend_kind))
    if kind in ("chamfer", "fillet"):
        return part
    bands = 3 if kind else int(rng.integers(2, 5))
    edges_x = np.linspace(0, L, bands + 1)
    for i in range(1 if kind else bands):
        end = "min" if i == 0 else ("max" if i == bands - 1 else None)
        part = band_feature(part, rng, float(edges_x[i]), float(edges_x[i + 1]), W, H, L, end, kind)
    return part


def band_feature(part: LabelledShape, rng: np.random.Generator, x0: float, x1: float, W: float, H: float,
                 L: float, end: str | None, kind: str | None = None) -> LabelledShape:
    """One feature inside the band x0..x1 (steps only in the end bands); random unless ``kind``."""
    choices = ["hole_through", "hole_blind", "pocket_blind", "pocket_through", "slot_through",
               "slot_blind", "boss"]
    if end:
        choices += ["step_through", "step_blind"]
    kind = kind or str(rng.choice(choices))
    bw, xc = x1 - x0, 0.5 * (x0 + x1)
    if kind.startswith("hole"):
        return _hole(part, rng, kind, xc, W, H, min(bw, W))
    if kind.startswith("pocket"):
        a, b = rng.uniform(0.35, 0.65) * bw, rng.uniform(0.3, 0.6) * W
        yc = rng.uniform(b / 2 + 0.1 * W, W - b / 2 - 0.1 * W)
        z0 = -1.0 if kind == "pocket_through" else H - rng.uniform(0.2, 0.6) * H
        r = rng.uniform(0.08, 0.2) * min(a, b) if rng.random() < 0.5 else 0.0
        return cut(part, rounded_box(xc - a / 2, yc - b / 2, z0, xc + a / 2, yc + b / 2, H + 1, r), kind)
    if kind.startswith("slot"):
        w, depth = rng.uniform(0.25, 0.55) * bw, rng.uniform(0.2, 0.6) * H
        y1 = W + 1 if kind == "slot_through" else rng.uniform(0.4, 0.75) * W
        return cut(part, box(xc - w / 2, -1, H - depth, xc + w / 2, y1, H + 1), kind)
    if kind == "boss":
        r = rng.uniform(0.15, 0.3) * min(bw, W)
        return fuse(part, cylinder(xc, rng.uniform(0.4, 0.6) * W, H, r, rng.uniform(0.2, 0.6) * H), kind)
    s, depth = rng.uniform(0.4, 0.8) * bw, rng.uniform(0.2, 0.6) * H
    y1 = W + 1 if kind == "step_through" else rng.uniform(0.3, 0.65) * W
    xa, xb = (-1.0, x0 + s) if end == "min" else (x1 - s, L + 1)
    return cut(part, box(xa, -1, H - depth, xb, y1, H + 1), kind)


def _hole(part: LabelledShape, rng: np.random.Generator, kind: str, xc: float, W: float, H: float,
          room: float) -> LabelledShape:
    """A plain, counterbored or countersunk through hole, or a flat-bottomed blind hole."""
    r = rng.uniform(0.1, 0.22) * room
    yc = rng.uniform(0.35, 0.65) * W
    if kind == "hole_blind":
        return cut(part, cylinder(xc, yc, H - rng.uniform(0.3, 0.7) * H, r, H + 1), kind)
    variant = rng.choice(["plain", "counterbore", "countersink"])
    if variant == "counterbore":
        part = cut(part, cylinder(xc, yc, H - rng.uniform(0.2, 0.4) * H, 1.7 * r, H), kind)
    elif variant == "countersink":
        c = 0.6 * r
        cone = BRepPrimAPI_MakeCone(gp_Ax2(gp_Pnt(xc, yc, H - c), Z), r, r + c + 1.0, c + 1.0).Shape()
        part = cut(part, cone, kind)
    return cut(part, cylinder(xc, yc, -1, r, H + 2), kind)


# ---- turned parts -----------------------------------------------------------------------------

def turned_part(rng: np.random.Generator, groove: bool | None = None) -> LabelledShape:
    """A stepped shaft revolved from a profile, with optional chamfer, groove and axial bore."""
    n = int(rng.integers(2, 5))
    lengths = rng.uniform(10, 30, n)
    peak = int(rng.integers(0, n))
    radii = np.empty(n)
    radii[peak] = rng.uniform(14, 24)
    for i in range(peak - 1, -1, -1):
        radii[i] = radii[i + 1] * rng.uniform(0.6, 0.85)
    for i in range(peak + 1, n):
        radii[i] = radii[i - 1] * rng.uniform(0.6, 0.85)
    z = np.concatenate([[0.0], np.cumsum(lengths)])
    part = revolve_profile(radii, z)
    if rng.random() < 0.6:
        part = _turn_chamfer(part, float(radii[0]), rng)
    if (rng.random() < 0.6) if groove is None else groove:
        i = int(np.argmax(lengths))
        w = rng.uniform(0.2, 0.35) * lengths[i]
        zc = z[i] + lengths[i] * rng.uniform(0.4, 0.6)
        r_in = radii[i] * rng.uniform(0.75, 0.9)
        ring = BRepAlgoAPI_Cut(cylinder(0, 0, zc - w / 2, radii[i] + 2, w), cylinder(0, 0, zc - w / 2 - 1, r_in, w + 2))
        part = cut(part, ring.Shape(), "groove")
    if rng.random() < 0.5:
        rb = rng.uniform(0.25, 0.45) * min(radii)
        if rng.random() < 0.5:
            part = cut(part, cylinder(0, 0, -1, rb, z[-1] + 2), "hole_through")
        else:
            part = cut(part, cylinder(0, 0, z[-1] - rng.uniform(0.3, 0.6) * z[-1], rb, z[-1]), "hole_blind")
    part.kind = "turned"
    return part


def revolve_profile(radii: np.ndarray, z: np.ndarray,
                    label: Callable[[object], str] | None = None) -> LabelledShape:
    """Revolve a stepped profile about Z; by default cylinders are ``turn_od``, planes ``turn_face``.

    ``label(face_info)`` (a ``brep_graph.describe_face`` record) overrides that labelling.
    """
    poly = BRepBuilderAPI_MakePolygon()
    pts = [(0.0, 0.0)]
    for i, r in enumerate(radii):
        pts += [(float(r), float(z[i])), (float(r), float(z[i + 1]))]
    pts.append((0.0, float(z[-1])))
    clean = [pts[0]]
    for p in pts[1:]:  # equal neighbouring radii would give a zero-length edge
        if np.hypot(p[0] - clean[-1][0], p[1] - clean[-1][1]) > 1e-9:
            clean.append(p)
    for x, zz in clean:
        poly.Add(gp_Pnt(x, 0, zz))
    poly.Close()
    face = BRepBuilderAPI_MakeFace(poly.Wire()).Face()
    shape = BRepPrimAPI_MakeRevol(face, gp_Ax1(gp_Pnt(0, 0, 0), Z), 2 * math.pi).Shape()
    label = label or (lambda f: "turn_od" if f.surface_type == "cylinder" else "turn_face")
    labels = [label(describe_face(i, f)) for i, f in enumerate(face_list(shape))]
    return LabelledShape(shape, labels, "turned", ["turn_od", "turn_face"])


def _turn_chamfer(part: LabelledShape, r0: float, rng: np.random.Generator) -> LabelledShape:
    """Chamfer the outer circular edge at z = 0."""
    from OCP.BRepAdaptor import BRepAdaptor_Curve
    from OCP.GeomAbs import GeomAbs_Circle

    edges = []
    for e in edges_where(part.shape, lambda a, b: abs(a[2]) < 1e-6 and abs(b[2]) < 1e-6):
        c = BRepAdaptor_Curve(e)
        if c.GetType() == GeomAbs_Circle and abs(c.Circle().Radius() - r0) < 1e-6:
            edges.append(e)
    return blend(part, edges, rng.uniform(0.08, 0.15) * r0, "chamfer") if edges else part


# ---- output -----------------------------------------------------------------------------------

TURNED = frozenset({"turn_od", "turn_face", "groove"})


def make_part(seed: int, kind: str | None = None) -> LabelledShape:
    """The labelled shape for ``seed`` (one in four turned); with ``kind``, a part showing that class."""
    rng = np.random.default_rng(seed)
    if kind in TURNED:
        return turned_part(rng, groove=True)
    if kind:
        return prismatic_part(rng, kind)
    return turned_part(rng) if rng.random() < 0.25 else prismatic_part(rng)


def generate_part(seed: int, transform: Callable[[TopoDS_Shape], TopoDS_Shape] | None = None,
                  kind: str | None = None) -> GeneratedPart:
    """STEP bytes and true per-face labels (as read) for ``seed``, optionally transformed."""
    part = make_part(seed, kind)
    shape = transform(part.shape) if transform else part.shape
    step = shape_to_step(shape)
    labels = labels_as_read(shape, part.labels, step)
    return GeneratedPart(step, labels, part.kind, sorted(set(part.features)), seed)


def transform_shape(shape: TopoDS_Shape, *, axis: tuple[float, float, float] = (0, 0, 1), angle: float = 0.0,
                    translation: tuple[float, float, float] = (0, 0, 0), scale: float = 1.0) -> TopoDS_Shape:
    """Rotate by ``angle`` radians about ``axis`` through the origin, scale, then translate."""
    rot, scl, move = gp_Trsf(), gp_Trsf(), gp_Trsf()
    rot.SetRotation(gp_Ax1(gp_Pnt(0, 0, 0), gp_Dir(*axis)), angle)
    scl.SetScale(gp_Pnt(0, 0, 0), scale)
    move.SetTranslation(gp_Vec(*translation))
    total = move.Multiplied(scl.Multiplied(rot))
    return BRepBuilderAPI_Transform(shape, total, True).Shape()


def random_transform(seed: int) -> Callable[[TopoDS_Shape], TopoDS_Shape]:
    """A deterministic random rotation, translation and scale for invariance tests."""
    rng = np.random.default_rng(seed + 10_007)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle, scale = float(rng.uniform(0.2, 3.0)), float(rng.uniform(0.3, 4.0))
    move = tuple(float(v) for v in rng.uniform(-500, 500, 3))
    return lambda s: transform_shape(s, axis=tuple(axis), angle=angle, translation=move, scale=scale)


def shape_to_step(shape: TopoDS_Shape) -> bytes:
    """The shape written as AP214 STEP bytes (OCCT's banners silenced)."""
    silence_occt()
    writer = STEPControl_Writer()
    writer.Transfer(shape, STEPControl_AsIs)
    fd, path = tempfile.mkstemp(suffix=".step")
    os.close(fd)
    try:
        writer.Write(path)
        return Path(path).read_bytes()
    finally:
        os.unlink(path)


def labels_as_read(shape: TopoDS_Shape, labels: list[str], step: bytes) -> list[str]:
    """Re-read ``step`` and give each face the label of the in-memory face with the nearest centroid."""
    read, _ = parse_step(step)
    ours = np.array([face_centroid(f) for f in face_list(shape)])
    out = []
    for face in face_list(read):
        d = np.linalg.norm(ours - np.array(face_centroid(face)), axis=1)
        out.append(labels[int(np.argmin(d))])
    return out


def write_parts(make: Callable[[int], GeneratedPart], prefix: str, default_seed: int, description: str,
                argv: list[str] | None = None) -> int:
    """CLI body shared by the generators: ``count`` parts from ``seed`` on, STEP plus JSON labels, into ``out``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--seed", type=int, default=default_seed)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for k in range(args.count):
        part = make(args.seed + k)
        name = f"{prefix}_{args.seed + k:04d}"
        (args.out / f"{name}.step").write_bytes(part.step)
        meta = {"labels": part.labels, "kind": part.kind, "features": part.features, "seed": part.seed}
        (args.out / f"{name}.json").write_text(json.dumps(meta))
    return 0


def main(argv: list[str] | None = None) -> int:
    return write_parts(generate_part, "part", 0, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
