"""/mesh: analyze (and, with the repair domain, repair) triangle meshes."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.auth import require_key
from api.schemas import JobCreateForm, JobSchema, UploadSchema
from api.submission import create_job
from api.uploads import multipart_body, receive
from pipelines.sniff import MESH_FORMATS

blp = Blueprint("mesh", __name__, url_prefix="/api/v1/mesh", description="Triangle meshes (seed 000)")

UNITS = ["mm", "cm", "m", "in", "ft"]


class MeshAnalyzeForm(JobCreateForm):
    units = fields.String(load_default="mm", validate=validate.OneOf(UNITS),
                          metadata={"description": "model units, for volume_cm3"})


@blp.route("/analyze")
class Analyze(MethodView):
    @multipart_body(MeshAnalyzeForm)
    @require_key
    @blp.arguments(UploadSchema, location="files")
    @blp.arguments(MeshAnalyzeForm, location="form")
    @blp.response(202, JobSchema)
    def post(self, files, form):
        """Analyse a mesh (STL, OBJ, PLY, OFF, 3MF, GLB): topology, volume, holes, recommendations."""
        stored = receive(files.get("file"), MESH_FORMATS)
        return create_job("mesh", "analyze", {"units": form["units"]}, stored, form["callback_url"])
