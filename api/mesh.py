"""/mesh: analyze and repair triangle meshes (seed 000), repair history and figures."""

from __future__ import annotations

import re

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.auth import owner_filter, require_key
from api.errors import ApiError
from api.schemas import JobCreateForm, JobListSchema, JobSchema, UploadSchema
from api.submission import create_job
from api.uploads import StoredInput, multipart_body, receive
from api.views import job_or_404, present_jobs
from pipelines.sniff import MESH_FORMATS
from tasks import connections, jobstore
from tasks.jobstore import JobFilter
from tasks.mesh import OUTPUT_FORMATS, repair_figures
from tasks.storage import input_key

blp = Blueprint("mesh", __name__, url_prefix="/api/v1/mesh", description="Triangle meshes (seed 000)")

UNITS = ["mm", "cm", "m", "in", "ft"]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MeshAnalyzeForm(JobCreateForm):
    units = fields.String(load_default="mm", validate=validate.OneOf(UNITS),
                          metadata={"description": "model units, for volume_cm3"})


class MeshRepairForm(MeshAnalyzeForm):
    input_job_id = fields.UUID(load_default=None, metadata={
        "description": "repair the input of one of your earlier jobs instead of uploading a file"})
    aggressive = fields.Boolean(load_default=False, metadata={
        "description": "also close non-flat sheets, drop more debris, accept pymeshfix at 95 % coverage"})
    keep_all_shells = fields.Boolean(load_default=True, metadata={
        "description": "keep every shell (false: only the largest, as plain pymeshfix does)"})
    fill_holes = fields.Boolean(load_default=True)
    max_hole_size = fields.Integer(load_default=None, validate=validate.Range(min=3, max=1_000_000), metadata={
        "description": "fill only holes whose boundary has at most this many edges"})
    remove_self_intersections = fields.Boolean(load_default=False, metadata={
        "description": "unite overlapping closed shells (manifold3d) and remove self-intersections"})
    output_format = fields.String(load_default="stl", validate=validate.OneOf(OUTPUT_FORMATS))


REPAIR_OPTIONS = ("units", "aggressive", "keep_all_shells", "fill_holes", "max_hole_size",
                  "remove_self_intersections", "output_format")


@blp.route("/analyze")
class Analyze(MethodView):
    @multipart_body(MeshAnalyzeForm)
    @require_key
    @blp.arguments(UploadSchema(), location="files")
    @blp.arguments(MeshAnalyzeForm(), location="form")
    @blp.response(202, JobSchema)
    def post(self, files, form):
        """Analyse a mesh (STL, OBJ, PLY, OFF, 3MF, GLB): topology, volume, holes, recommendations."""
        stored = receive(files.get("file"), MESH_FORMATS)
        return create_job("mesh", "analyze", {"units": form["units"]}, stored, form["callback_url"])


@blp.route("/repair")
class Repair(MethodView):
    @multipart_body(MeshRepairForm, file_required=False)
    @require_key
    @blp.arguments(UploadSchema(), location="files")
    @blp.arguments(MeshRepairForm(), location="form")
    @blp.response(202, JobSchema)
    def post(self, files, form):
        """Repair a mesh per shell: clean shells untouched, holes filled, coverage checked.

        Send a `file`, or `input_job_id` to repair the input of an earlier job of yours.
        The result has seed 000's `original_stats`, `repaired_stats`, `volume_change_cm3`,
        `volume_change_percent`, `holes_filled`, `quality_score`, plus `coverage` and the
        `operations` applied; the repaired file is the artifact `repaired.<output_format>`.
        """
        upload, job_id = files.get("file"), form["input_job_id"]
        if (upload is None) == (job_id is None):
            raise ApiError(422, "VALIDATION_ERROR", "send exactly one of file and input_job_id",
                           {"fields": {"file": ["Send a file or input_job_id."]}})
        stored = receive(upload, MESH_FORMATS) if upload is not None else _earlier_input(str(job_id))
        params = {name: form[name] for name in REPAIR_OPTIONS}
        return create_job("mesh", "repair", params, stored, form["callback_url"])


def _earlier_input(job_id: str) -> StoredInput:
    with connections.transaction() as conn:
        row = job_or_404(conn, job_id)
    if row["domain"] != "mesh" or not row["input_key"]:
        raise ApiError(422, "VALIDATION_ERROR", "that job's input is not a mesh",
                       {"fields": {"input_job_id": ["Not a mesh job."]}})
    return StoredInput(row["input_key"], row["input_key"].rsplit("/", 1)[-1], row["input_size"],
                       row["input_format"], row["input_name"])


@blp.route("/history/<sha256>")
class History(MethodView):
    @require_key
    @blp.response(200, JobListSchema)
    def get(self, sha256: str):
        """Your repair jobs of one input file (by its sha256), newest first."""
        if not _SHA256.match(sha256):
            raise ApiError(422, "VALIDATION_ERROR", "sha256 must be 64 lowercase hex characters",
                           {"fields": {"sha256": ["Not a sha256."]}})
        flt = JobFilter(owner=owner_filter(), domain="mesh", operation="repair", input_key=input_key(sha256))
        with connections.transaction() as conn:
            rows, total = jobstore.list_jobs(conn, flt, limit=200, offset=0)
            items = present_jobs(conn, rows)
        return {"items": items, "total": total, "page": 1, "page_size": 200}


@blp.route("/stats")
class Stats(MethodView):
    @require_key
    @blp.response(200)
    def get(self):
        """Repair figures as seed 000 reports them (yours; all for an admin key)."""
        with connections.transaction() as conn:
            return {"stats": repair_figures(conn, owner_filter())}
