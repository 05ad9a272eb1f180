"""CAD analysis entry point: validate, heal, tessellate and recognise features, degrading by tier.

Tiers (the report says which ran, its confidence and why better tiers did not):

1. ML classifier on per-face descriptors (``ml_classifier``; skipped when None);
2. rules on the B-Rep face graph (:mod:`pipelines.features_rules`);
3. mesh heuristics (:mod:`pipelines.features_mesh`) for STL/OBJ input, tessellated-only STEP, or
   when the B-Rep tier fails;
4. view only: the GLB and face map, no features.

``linear_deflection`` is relative (percent of the bounding-box diagonal, see
:mod:`pipelines.step_tessellate`); ``angular_deflection`` is in radians.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines import features_mesh
from pipelines.brep_graph import BrepGraph, FaceInfo, build_graph
from pipelines.errors import DependencyError, InputError, PipelineError
from pipelines.features_rules import CLASSES, Recognition, recognise
from pipelines.progress import Progress, no_progress
from pipelines.step_heal import heal_shape
from pipelines.step_load import MAX_FACES, load_step
from pipelines.step_tessellate import bounding_diagonal, tessellate, to_glb

SCHEMA_VERSION = "meshmill.cad.v1"
TIER_NAMES = {1: "ml", 2: "rules", 3: "mesh_heuristics", 4: "view_only"}
MESH_FORMATS = ("stl", "obj", "ply", "off", "glb", "3mf")


@dataclass
class CadResult:
    """The JSON-able report, the GLB bytes and the triangle -> face index map."""

    report: dict[str, Any]
    glb: bytes
    face_map: np.ndarray


def analyze_cad(data: bytes, fmt: str, *, linear_deflection: float = 0.1, angular_deflection: float = 0.5,
                heal: bool = True, tier: str | int | None = None, max_faces: int = MAX_FACES,
                progress: Progress = no_progress, ml_classifier: Callable[..., Any] | None = None) -> CadResult:
    """Analyze a STEP part (or a mesh, through tier 3); raise InputError with a stage code when bad."""
    forced = _tier_number(tier)
    fmt = (fmt or "").lower().lstrip(".")
    if fmt in MESH_FORMATS:
        return features_mesh.analyze_mesh(data, fmt, forced=forced, progress=progress)
    if fmt not in ("step", "stp"):
        raise InputError("CAD_UNSUPPORTED_FORMAT", f"unsupported CAD format {fmt!r}", {"format": fmt})
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    progress(2, "validating")
    loaded = load_step(data, max_faces=max_faces)
    timings["load"] = _lap(clock)
    diag = bounding_diagonal(loaded.shape) or 1.0
    progress(25, "healing")
    clock = time.perf_counter()
    healed = heal_shape(loaded.shape, loaded.faces, loaded.info, enabled=heal, diagonal=diag)
    timings["heal"] = _lap(clock)
    progress(40, "tessellating")
    clock = time.perf_counter()
    mesh = tessellate(healed.shape, healed.faces, healed.face_origin, linear_deflection=linear_deflection,
                      angular_deflection=angular_deflection, diagonal=diag)
    glb = to_glb(mesh.vertices, mesh.triangles)
    timings["mesh"] = _lap(clock)
    progress(65, "recognising features")
    clock = time.perf_counter()
    tier_info, graph, rec = run_tiers(loaded, healed, mesh, diag, forced, ml_classifier)
    timings["recognise"] = _lap(clock)
    report = build_report(loaded, healed.audit, tier_info, graph, rec, len(loaded.faces))
    report["tessellation"] = {"vertices": len(mesh.vertices), "triangles": len(mesh.triangles),
                              "linear_deflection_pct_of_diagonal": linear_deflection,
                              "angular_deflection_rad": angular_deflection}
    report["timings"] = {k: round(v, 4) for k, v in timings.items()}
    progress(100, "done")
    return CadResult(report, glb, mesh.face_map)


def _lap(start: float) -> float:
    return time.perf_counter() - start


def _tier_number(tier: str | int | None) -> int | None:
    """Accept 1-4 or a tier name."""
    if tier is None:
        return None
    names = {v: k for k, v in TIER_NAMES.items()} | {"rule": 2, "mesh": 3, "view": 4}
    number = names.get(str(tier).lower()) or (int(tier) if str(tier).isdigit() else None)
    if number not in TIER_NAMES:
        raise InputError("CAD_INVALID_TIER", f"unknown tier {tier!r}", {"tier": tier})
    return number


def run_tiers(loaded: Any, healed: Any, mesh: Any, diag: float, forced: int | None,
              ml_classifier: Callable[..., Any] | None) -> tuple[dict[str, Any], BrepGraph | None, Recognition | None]:
    """Try tiers from the best (or the forced one) down; return tier info, graph and labels."""
    reasons: list[str] = []
    graph = None
    start = forced or 1
    if loaded.info.get("mesh_only"):
        reasons.append("tessellated-only STEP: no B-Rep surfaces")
        start = max(start, 3)
    if start <= 2:
        try:
            graph = _original_graph(loaded, healed, mesh, diag)
        except PipelineError:
            raise
        except Exception as exc:  # OCCT Standard_Failure and friends: fall back to the mesh tier
            reasons.append(f"B-Rep graph failed: {type(exc).__name__}")
            start = 3
    if start == 1:
        if ml_classifier is None:
            reasons.append("model not installed")
        else:
            try:
                rec = _ml_tier(graph, ml_classifier)
                return _tier(1, rec.confidence, reasons), graph, rec
            except Exception as exc:  # the model is a plug-in: any failure falls back to rules
                reasons.append(f"model failed: {type(exc).__name__}: {exc}")
        start = 2
    if start == 2 and graph is not None:
        try:
            rec = recognise(graph)
            return _tier(2, rec.confidence, reasons), graph, rec
        except Exception as exc:  # rule bugs on odd geometry must not lose the job: fall to tier 3
            reasons.append(f"rules failed: {type(exc).__name__}: {exc}")
        start = 3
    if start <= 3:
        rec = features_mesh.recognise_faces(mesh.vertices, mesh.triangles, mesh.face_map, len(loaded.faces))
        if rec is not None:
            return _tier(3, rec.confidence, reasons), graph, rec
        reasons.append("mesh heuristics found no usable regions")
    return _tier(4, 0.4, reasons), graph, None


def _tier(number: int, confidence: float, reasons: list[str]) -> dict[str, Any]:
    return {"used": number, "name": TIER_NAMES[number], "confidence": confidence,
            "fallback_reason": "; ".join(reasons) or None}


def _original_graph(loaded: Any, healed: Any, mesh: Any, diag: float) -> BrepGraph:
    """The face graph over the faces as read (healed faces only when healing changed them)."""
    if len(healed.faces) == len(loaded.faces) and healed.face_origin == list(range(len(loaded.faces))):
        return build_graph(healed.faces, mesh.face_points, diag)
    points = [np.zeros((0, 3)) for _ in loaded.faces]
    for j, origin in enumerate(healed.face_origin):
        if len(mesh.face_points[j]):
            points[origin] = np.vstack([points[origin], mesh.face_points[j]])
    return build_graph(loaded.faces, points, diag)


def _ml_tier(graph: BrepGraph, classifier: Callable[..., Any]) -> Recognition:
    """Call the tier 1 model on per-face descriptors; it returns (labels, confidences)."""
    if graph is None:
        raise DependencyError("CAD_MODEL_INPUT", "no B-Rep graph for the model")
    labels, conf = classifier(graph)
    labels = [str(lab) for lab in labels]
    if len(labels) != len(graph.faces) or any(lab not in CLASSES for lab in labels):
        raise DependencyError("CAD_MODEL_OUTPUT", "the model returned labels of the wrong shape or class")
    features = [{"id": i, "type": lab, "faces": [i], "dimensions": {}, "axis": None,
                 "confidence": round(float(c), 3)} for i, (lab, c) in enumerate(zip(labels, conf, strict=True))]
    return Recognition(labels, list(range(len(labels))), features, round(float(np.mean(conf)), 3))


def build_report(loaded: Any, audit: dict[str, Any], tier_info: dict[str, Any], graph: BrepGraph | None,
                 rec: Recognition | None, n_faces: int) -> dict[str, Any]:
    """The JSON report: validation, healing, tier, faces, features and summary."""
    info = loaded.info
    validation = {"stages": loaded.stages, "quality_score": info["quality_score"], "schema": info["schema"],
                  "units": {"file": info["units"], "reported": "mm"}, "roots": info["roots"],
                  **{k: info[k] for k in ("solids", "shells", "open_shells", "free_faces", "free_edges",
                                          "is_assembly", "mesh_only", "valid")}}
    faces = [face_record(i, graph.faces[i] if graph else None, rec) for i in range(n_faces)]
    features = rec.features if rec else []
    counts = Counter(f["label"] for f in faces if f["label"])
    return {
        "schema_version": SCHEMA_VERSION,
        "validation": validation,
        "healing_applied": audit,
        "tier": tier_info,
        "faces": faces,
        "features": features,
        "summary": {"faces": n_faces, "features": len(features),
                    "features_by_type": dict(Counter(f["type"] for f in features)),
                    "faces_by_label": dict(counts)},
    }


def face_record(i: int, f: FaceInfo | None, rec: Recognition | None) -> dict[str, Any]:
    """One face: index, surface type, area, normal or axis, label and feature id."""
    out: dict[str, Any] = {"index": i, "surface_type": f.surface_type if f else "unknown",
                           "area": round(f.area, 6) if f else None}
    if f is not None and f.normal is not None:
        out["normal"] = [round(float(v), 6) for v in f.normal]
    if f is not None and f.axis is not None:
        out["axis"] = {"direction": [round(float(v), 6) for v in f.axis],
                       "point": [round(float(v), 6) for v in f.location], "radius": round(float(f.radius), 6)}
    out["label"] = rec.labels[i] if rec else None
    out["feature_id"] = rec.feature_of[i] if rec else None
    return out
