"""Mesh domain steps (seed 000): key in -> pipeline -> result and artifacts out."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from pipelines.limits import Limits
from pipelines.mesh_analysis import analyze_bytes
from pipelines.mesh_io import FORMAT_MEDIA_TYPES, export_mesh, load_mesh
from pipelines.mesh_repair import repair_mesh
from pipelines.progress import scaled
from tasks import jobstore
from tasks.base import StepContext, job_step
from tasks.settings import get_settings
from tasks.submit import register_operation

ANALYZE = "meshmill.mesh.analyze"
REPAIR = "meshmill.mesh.repair"
OUTPUT_FORMATS = ("stl", "obj", "ply", "3mf", "glb")
TIME_MARGIN_S = 15  # the repair's own budget ends this much before Celery's soft time limit


def mesh_limits() -> Limits:
    return Limits(max_triangles=get_settings().max_triangles)


@job_step(ANALYZE, too_complex_code="MESH_TOO_COMPLEX")
def analyze(ctx: StepContext) -> dict[str, Any]:
    """Analyse the uploaded mesh: topology, volume, holes and recommendations."""
    ctx.progress(5, "fetching input")
    return analyze_bytes(ctx.input_bytes(), ctx.job["input_format"], units=ctx.params.get("units", "mm"),
                         progress=ctx.progress, limits=mesh_limits())


@job_step(REPAIR, too_complex_code="MESH_TOO_COMPLEX")
def repair(ctx: StepContext) -> dict[str, Any]:
    """Repair per shell, keep clean shells untouched, write the repaired file as an artifact."""
    params = ctx.params
    ctx.progress(2, "loading mesh")
    mesh = load_mesh(ctx.input_bytes(), ctx.job["input_format"], limits=mesh_limits())
    budget = max(5.0, get_settings().soft_time_limit - TIME_MARGIN_S)
    out = repair_mesh(mesh, aggressive=params.get("aggressive", False),
                      keep_all_shells=params.get("keep_all_shells", True), fill_holes=params.get("fill_holes", True),
                      max_hole_size=params.get("max_hole_size"),
                      remove_self_intersections=params.get("remove_self_intersections", False),
                      units=params.get("units", "mm"), time_budget_s=budget,
                      progress=scaled(ctx.progress, 5, 90), limits=mesh_limits())
    fmt = params.get("output_format", "stl")
    ctx.progress(92, f"writing {fmt}")
    name = f"repaired.{fmt}"
    ctx.save_artifact(name, export_mesh(out.mesh, fmt), FORMAT_MEDIA_TYPES[fmt])
    return {**out.report, "artifact": name, "output_format": fmt}


def repair_figures(conn: Connection, owner: str | None) -> dict[str, Any]:
    """Seed 000's repair statistics, over the newest 10,000 repair jobs."""
    rows = jobstore.finished_results(conn, "mesh", "repair", owner)
    done = [r["result"] for r in rows if r["state"] == "succeeded" and r["result"]]
    now = jobstore.utcnow()
    ages = [(now - jobstore.as_utc(r["created_at"])).total_seconds() for r in rows]
    return {
        "total_repairs": len(rows),
        "successful_repairs": len(done),
        "average_quality_score": _mean([d.get("quality_score") for d in done]),
        "average_volume_change": _mean([d.get("volume_change_percent") for d in done]),
        "average_coverage": _mean([d.get("coverage") for d in done]),
        "total_holes_filled": sum(int(d.get("holes_filled") or 0) for d in done),
        "watertight_achieved": sum(bool(d.get("repaired_stats", {}).get("is_watertight")) for d in done),
        "today_repairs": sum(age < 86_400 for age in ages),
        "this_week_repairs": sum(age < 7 * 86_400 for age in ages),
    }


def _mean(values: list[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return round(sum(present) / len(present), 3) if present else None


register_operation("mesh", "analyze", [ANALYZE])
register_operation("mesh", "repair", [REPAIR], reuse_seconds=86_400, figures=repair_figures)
