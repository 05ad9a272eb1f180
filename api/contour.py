"""/contour: sprite image (or images) -> 2D triangle mesh with UVs, edges and Spine JSON (seed 002)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.auth import require_key
from api.errors import ApiError
from api.schemas import JobCreateForm, JobSchema, UploadSchema
from api.submission import create_job
from api.uploads import multipart_body, receive
from pipelines.contour_params import PRESETS, RANGES, ContourParams, make_params
from pipelines.errors import InputError
from pipelines.sniff import IMAGE_FORMATS
from tasks.netguard import UnsafeUrl, check_url
from tasks.settings import get_settings

blp = Blueprint("contour", __name__, url_prefix="/api/v1/contour",
                description="Sprite images to 2D meshes with UVs, edges and Spine export (seed 002)")

ALLOWED_FORMATS = IMAGE_FORMATS | {"zip"}
MAX_URLS = 50
SOURCES = ("file", "image_url", "image_urls")
_DEFAULTS = ContourParams()

# what each parameter does, with its direction (see pipelines/contour_params.py)
PARAM_DOCS = {
    "detail_factor": "higher keeps more outline detail, so more vertices",
    "alpha_threshold": "pixels with alpha >= this form the mask; higher drops faint pixels",
    "concave_factor": "closing radius in px; higher bridges wider concavities (fewer vertices, more wasted area)",
    "internal_vertex_density": "interior vertices for deformation; 0 adds none beyond quality refinement; "
                               "no denser than about one per 4 x min_triangle_area, and none that makes a "
                               "triangle under min_triangle_area",
    "blur_kernel_size": "Gaussian blur of the mask before binary_threshold (odd; even -> next odd)",
    "binary_threshold": "threshold on the blurred mask; lower grows the outline",
    "min_contour_area": "islands smaller than this (px) are dropped, holes enclosing less (px^2) are filled",
    "min_hole_share": "holes enclosing less than this share of their island's area are filled too; "
                      "higher gives fewer holes (fewer vertices and slivers, more wasted area)",
    "min_hole_width": "holes narrower than this (px, on average) and under 5 % of their island are filled too; "
                      "2 px slots force narrow triangles all round them; 0 keeps them",
    "density_scaling_factor": "px of area per interior vertex at density 1; higher gives fewer",
    "min_triangle_area": "smallest triangle (px^2) quality refinement or internal_vertex_density may create",
    "padding_px": "extra outward margin in px (clamped to the image)",
    "max_vertices": "vertex budget; simplification coarsens until the mesh fits, then, if no tolerance "
                    "fits, the mask is closed with a growing radius (islands merge; metadata.budget_closing_px), "
                    "and last the box around every kept pixel (metadata.budget_box)",
    "all_islands": "mesh every island (false: only the largest)",
    "holes": "cut holes out of the mesh",
    "outline_steiner": "let quality refinement split outline segments (more hull vertices, better angles)",
}
_INTEGERS = {"alpha_threshold", "internal_vertex_density", "blur_kernel_size", "binary_threshold", "padding_px",
             "max_vertices"}


class WholeNumber(fields.Integer):
    """An integer that refuses 10.5 instead of truncating it (form strings or JSON numbers)."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


def _param_field(name: str) -> fields.Field:
    default = getattr(_DEFAULTS, name)
    meta = {"description": f"{PARAM_DOCS[name]} (default {str(default).lower()})"}
    if name in ("all_islands", "holes", "outline_steiner"):
        return fields.Boolean(load_default=None, metadata=meta)
    low, high = RANGES[name]
    kind = WholeNumber if name in _INTEGERS else fields.Float
    return kind(load_default=None, validate=validate.Range(min=low, max=high), metadata=meta)


_Url = fields.Url(require_tld=False, schemes={"http", "https"})

GenerateArgs = JobCreateForm.from_dict({
    **{name: _param_field(name) for name in PARAM_DOCS},
    "preset": fields.String(load_default=None, validate=validate.OneOf(sorted(PRESETS)), metadata={
        "description": "start from a preset's values; explicit parameters override it"}),
    "image_url": fields.Url(require_tld=False, schemes={"http", "https"}, load_default=None, metadata={
        "description": "fetch the image (or a zip of images) from here instead of an upload"}),
    "image_urls": fields.List(_Url, load_default=None, validate=validate.Length(min=1, max=MAX_URLS), metadata={
        "description": f"a batch: up to {MAX_URLS} image URLs, one result (or error) per image"}),
}, name="ContourGenerateArgs")

@blp.route("/generate")
class Generate(MethodView):
    @multipart_body(GenerateArgs, json_schema=GenerateArgs, file_required=False)
    @require_key
    @blp.arguments(UploadSchema(), location="files", required=False)
    @blp.arguments(GenerateArgs(), location="form", required=False)
    @blp.arguments(GenerateArgs(), location="json", required=False)
    @blp.response(202, JobSchema)
    def post(self, files, form, body):
        """Mesh a sprite: alpha -> outline enclosing every opaque pixel -> triangles, UVs, edges.

        Send exactly one source:

        - `multipart/form-data` with `file` (an image, PNG/JPEG/WebP/GIF/BMP by content, or a zip
          of images for a batch) and the parameters as form fields;
        - `application/json` with `image_url` (one image or a zip) or `image_urls` (a batch),
          and the parameters as JSON values. `image_url` may also be a form field.

        Parameters are seed 002's nine (with its ranges) plus `padding_px`, `all_islands`,
        `holes`, `max_vertices`, and `preset`; a value out of range is a 422 listing every bad
        field. URLs must resolve to public addresses (422 `UNSAFE_URL`); the worker checks
        them again when it fetches them. The job's `params` hold the resolved values.
        One image gives artifacts `mesh.json` and `spine.json`; a batch gives `mesh.json`
        (every item) and `spine-<name>.json` per meshed image.
        """
        args = body if request.is_json else form
        upload = files.get("file")
        given = [name for name, value in zip(SOURCES, (upload, args["image_url"], args["image_urls"]), strict=True)
                 if value]
        if len(given) != 1:
            message = "exactly one of file, image_url or image_urls is required"
            raise ApiError(422, "VALIDATION_ERROR", message,
                           {"fields": {name: [message] for name in (given or SOURCES)}})
        params = resolve_params(args)
        check_image_urls(args)
        stored = receive(upload, ALLOWED_FORMATS) if upload is not None else None
        if args["image_url"]:
            params["image_url"] = args["image_url"]
        if args["image_urls"]:
            params["image_urls"] = list(args["image_urls"])
        return create_job("contour", "generate", params, stored, args["callback_url"])


def resolve_params(args: dict[str, Any]) -> dict[str, Any]:
    """The effective parameters (defaults < preset < explicit values), as stored on the job."""
    values = {name: args[name] for name in PARAM_DOCS if args[name] is not None}
    try:
        resolved = make_params(values, args["preset"]).as_dict()
    except InputError as exc:  # the schema mirrors make_params; this is a second line
        fields_ = {name: [reason] for name, reason in exc.details.get("fields", {}).items()}
        raise ApiError(422, "VALIDATION_ERROR", exc.message, {"fields": fields_}) from exc
    if args["preset"]:
        resolved["preset"] = args["preset"]
    return resolved


def check_image_urls(args: dict[str, Any]) -> None:
    """422 UNSAFE_URL listing every URL that resolves to a private, loopback or link-local address."""
    allowlist = get_settings().url_allowlist
    errors: dict[str, Any] = {}
    if args["image_url"]:
        try:
            check_url(args["image_url"], allowlist)
        except UnsafeUrl as exc:
            errors["image_url"] = [str(exc)]
    for index, url in enumerate(args["image_urls"] or []):
        try:
            check_url(url, allowlist)
        except UnsafeUrl as exc:
            errors.setdefault("image_urls", {})[str(index)] = [str(exc)]
    if errors:
        first = next(iter(errors.values()))
        message = first[0] if isinstance(first, list) else next(iter(first.values()))[0]
        raise ApiError(422, "UNSAFE_URL", message, {"fields": errors})
