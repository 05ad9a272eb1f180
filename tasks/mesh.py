"""Mesh domain steps: key in -> pipeline -> result and artifacts out."""

from __future__ import annotations

from typing import Any

from pipelines.limits import Limits
from pipelines.mesh_analysis import analyze_bytes
from tasks.base import StepContext, job_step
from tasks.settings import get_settings
from tasks.submit import register_operation

ANALYZE = "meshmill.mesh.analyze"


def mesh_limits() -> Limits:
    return Limits(max_triangles=get_settings().max_triangles)


@job_step(ANALYZE, too_complex_code="MESH_TOO_COMPLEX")
def analyze(ctx: StepContext) -> dict[str, Any]:
    """Analyse the uploaded mesh: topology, volume, holes and recommendations."""
    ctx.progress(5, "fetching input")
    return analyze_bytes(ctx.input_bytes(), ctx.job["input_format"], units=ctx.params.get("units", "mm"),
                         progress=ctx.progress, limits=mesh_limits())


register_operation("mesh", "analyze", [ANALYZE])
