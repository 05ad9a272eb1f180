"""Marshmallow schemas shared by every job-creating blueprint and the job reads."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

STATES = ["queued", "running", "succeeded", "failed", "dead", "canceled"]

# Integers from a request end up in SQL; past what the column holds the database raises (SQLite:
# OverflowError, PostgreSQL: out of range) and the request would be a 500. So every integer a
# request gives is bounded here: ids and cursors by a 64-bit column, counts by a 32-bit one,
# pages so that the offset (page - 1) * page_size stays a small 64-bit number.
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
PAGE_MAX = 1_000_000


def page_field() -> fields.Integer:
    """``page`` of a listing: 1-based, bounded (``PAGE_MAX``)."""
    return fields.Integer(load_default=1, validate=validate.Range(min=1, max=PAGE_MAX))


class JobCreateForm(Schema):
    """Fields every job-creating POST accepts, beside its own options."""

    callback_url = fields.Url(require_tld=False, schemes={"http", "https"}, load_default=None,
                              metadata={"description": "receives signed job.* webhooks"})


class UploadSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"})


class ArtifactSchema(Schema):
    name = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    url = fields.String(metadata={"description": "download through the API (streamed)"})
    download_url = fields.String(metadata={"description": "presigned storage URL, when the storage has one"})


class JobErrorSchema(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Dict()
    error_class = fields.String(data_key="class", attribute="class")


class JobSchema(Schema):
    id = fields.String()
    domain = fields.String()
    operation = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))
    progress = fields.Integer()
    message = fields.String()
    params = fields.Dict()
    input = fields.Dict()
    result = fields.Dict(allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    attempts = fields.Integer()
    artifacts = fields.List(fields.Nested(ArtifactSchema))
    callback_url = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class JobListQuery(Schema):
    state = fields.String(validate=validate.OneOf(STATES), load_default=None)
    domain = fields.String(load_default=None)
    page = page_field()
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))
    include = fields.String(load_default=None, validate=validate.OneOf(["result"]), metadata={
        "description": "'result': each job's result too. Left out by default: a sprite mesh's is ~160 KB, "
                       "so a page of them is tens of MB; GET /jobs/<id> has it."})


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class EventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    type = fields.String()
    state = fields.String()
    progress = fields.Integer()
    message = fields.String()
    data = fields.Dict(allow_none=True)


class EventListQuery(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=BIGINT_MAX),
                           metadata={"description": "return events with id greater than this"})


class EventListSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
