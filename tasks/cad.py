"""CAD domain steps (seeds 001, 003): a STEP part (or an STL/OBJ mesh) in -> report, GLB and face map out.

The step runs in a prefork pool child, one job at a time per process: OCCT is never
shared across threads. The soft time limit ends the job as ``CAD_TOO_COMPLEX``, and so
does a part over :data:`MAX_FACES` (the pipeline's ``TooComplexError``).

Artifacts: ``model.glb`` (the tessellation, for a viewer) and ``face_map.json``
(``{"triangle_face": [face index per GLB triangle], "faces": [per-face records]}``).
The result is the pipeline's report; for a part with more than :data:`RESULT_MAX_FACES`
faces its per-face list is left to ``face_map.json`` so the job row stays small.
"""

from __future__ import annotations

from typing import Any

from tasks.base import StepContext, job_step
from tasks.json_codec import to_json
from tasks.submit import register_operation

ANALYZE = "meshmill.cad.analyze"

# Module constants, not settings (the brief allows no new settings fields):
MAX_FACES = 20_000  # B-Rep faces in one part; more -> CAD_TOO_COMPLEX (the pipeline's default)
RESULT_MAX_FACES = 2_000  # per-face records kept in the job's result; all of them are in face_map.json
REUSE_SECONDS = 86_400  # seed 003 caches an analysis by file hash for 24 h


@job_step(ANALYZE, too_complex_code="CAD_TOO_COMPLEX")
def analyze(ctx: StepContext) -> dict[str, Any]:
    """Validate, heal, tessellate and recognise features of a STEP part; STL/OBJ fall to tier 3."""
    # imported here so the API process (which imports every tasks module to learn the
    # operations) does not load OpenCASCADE; a pool child imports it once, on its first job
    from pipelines.cad_analysis import analyze_cad

    ctx.progress(1, "fetching input")
    params = ctx.params
    out = analyze_cad(ctx.input_bytes(), ctx.job["input_format"],
                      linear_deflection=params.get("linear_deflection", 0.1),
                      angular_deflection=params.get("angular_deflection", 0.5),
                      heal=params.get("heal", True), tier=params.get("tier"), max_faces=MAX_FACES,
                      progress=ctx.progress)
    report = out.report
    record_stages(ctx, report)
    ctx.save_artifact("model.glb", out.glb, "model/gltf-binary")
    face_map = {"triangle_face": out.face_map, "faces": report.get("faces", [])}
    ctx.save_artifact("face_map.json", to_json(face_map), "application/json")
    return result_of(report)


def record_stages(ctx: StepContext, report: dict[str, Any]) -> None:
    """One ``cad.stage`` event per validation stage and a ``cad.healing_applied`` audit event.

    A failed stage needs none of these: its record is in the ``job.failed`` event's details.
    """
    events = [("cad.stage", f"{stage['stage']} {'passed' if stage['ok'] else 'failed: ' + stage['code']}", stage)
              for stage in report.get("validation", {}).get("stages", [])]
    healing = report.get("healing_applied") or {}
    events.append(("cad.healing_applied", "healing applied" if healing.get("applied") else "no healing needed",
                   healing))
    ctx.record(events)


def result_of(report: dict[str, Any]) -> dict[str, Any]:
    """The report as the job's result, per-face records left out above RESULT_MAX_FACES."""
    faces = report.get("faces", [])
    if len(faces) <= RESULT_MAX_FACES:
        return report
    return {**report, "faces": None,
            "faces_omitted": {"count": len(faces), "limit": RESULT_MAX_FACES, "artifact": "face_map.json"}}


register_operation("cad", "analyze", [ANALYZE], reuse_seconds=REUSE_SECONDS)
