"""/cad: validate, heal, tessellate STEP parts and recognise machining features (seeds 001, 003)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, post_load, validate

from api.auth import require_key
from api.schemas import JobCreateForm, JobSchema, UploadSchema
from api.submission import create_job
from api.uploads import multipart_body, receive
from pipelines.sniff import CAD_FORMATS

blp = Blueprint("cad", __name__, url_prefix="/api/v1/cad",
                description="STEP parts and machining features (seeds 001, 003)")

# STEP, plus triangle meshes for the tier 3 (mesh heuristics) fallback
ALLOWED_FORMATS = CAD_FORMATS | {"stl", "obj"}

# tier names as pipelines.cad_analysis reads them (not imported: that module loads OpenCASCADE)
TIERS = {"1": 1, "2": 2, "3": 3, "4": 4, "ml": 1, "rules": 2, "rule": 2, "mesh_heuristics": 3, "mesh": 3,
         "view_only": 4, "view": 4}


class TierField(fields.Field):
    """1-4 or a tier name; loads as the tier number so equal requests share a cache entry."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        tier = TIERS.get(str(value).strip().lower())
        if tier is None:
            raise ValidationError(f"Must be 1-4 or one of: {', '.join(k for k in TIERS if not k.isdigit())}.")
        return tier


class CadAnalyzeForm(JobCreateForm):
    linear_deflection = fields.Float(
        load_default=0.1, validate=validate.Range(min=0.01, max=5.0),
        metadata={"description": "chordal tolerance, percent of the part's bounding-box diagonal"})
    angular_deflection = fields.Float(
        load_default=0.5, validate=validate.Range(min=0.05, max=1.5),
        metadata={"description": "angular tolerance of the tessellation, radians"})
    heal = fields.Boolean(load_default=True, metadata={"description": "run ShapeFix healing before meshing"})
    tier = TierField(load_default=None, metadata={
        "type": "string", "description": "force a tier: 1 ml, 2 rules, 3 mesh_heuristics, 4 view_only "
                                         "(default: the best that works)"})

    @post_load
    def params(self, data, **_kwargs):
        data["params"] = {k: data[k] for k in ("linear_deflection", "angular_deflection", "heal", "tier")}
        return data


@blp.route("/analyze")
class Analyze(MethodView):
    @multipart_body(CadAnalyzeForm)
    @require_key
    @blp.arguments(UploadSchema(), location="files")
    @blp.arguments(CadAnalyzeForm(), location="form")
    @blp.response(202, JobSchema)
    def post(self, files, form):
        """Analyse a STEP part: five-stage validation, healing, GLB with face map, machining features.

        STL and OBJ are accepted and analysed by mesh heuristics (tier 3). Identical input and
        options within 24 h return the earlier result at once.
        """
        stored = receive(files.get("file"), ALLOWED_FORMATS)
        return create_job("cad", "analyze", form["params"], stored, form["callback_url"])
