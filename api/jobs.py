"""/jobs: list, read, cancel, events, artifact download."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import owner_filter, require_key
from api.errors import ApiError
from api.schemas import EventListQuery, EventListSchema, JobListQuery, JobListSchema, JobSchema
from api.views import job_or_404, present_job, present_jobs
from tasks import connections, jobstore, lifecycle
from tasks.jobstore import IllegalTransition, JobFilter
from tasks.jobview import event_view, iso

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Jobs: state, events, artifacts")


@blp.route("")
class Jobs(MethodView):
    @require_key
    @blp.arguments(JobListQuery(), location="query")
    @blp.response(200, JobListSchema)
    def get(self, query):
        """List your jobs, newest first (admin keys see all); results only with ``include=result``."""
        flt = JobFilter(owner=owner_filter(), state=query["state"], domain=query["domain"])
        size = query["page_size"]
        with connections.transaction() as conn:
            rows, total = jobstore.list_jobs(conn, flt, limit=size, offset=(query["page"] - 1) * size,
                                             with_result=query["include"] == "result")
            items = present_jobs(conn, rows)
        return {"items": items, "total": total, "page": query["page"], "page_size": size}


@blp.route("/<job_id>")
class Job(MethodView):
    @require_key
    @blp.response(200, JobSchema)
    def get(self, job_id: str):
        """A job: state, progress, result or error, artifacts."""
        with connections.transaction() as conn:
            return present_job(conn, job_or_404(conn, job_id))


@blp.route("/<job_id>/cancel")
class JobCancel(MethodView):
    @require_key
    @blp.response(200, JobSchema)
    def post(self, job_id: str):
        """Cancel a queued or running job; 409 when it already ended."""
        try:
            row = lifecycle.cancel(job_id, owner_filter())
        except IllegalTransition as exc:
            raise ApiError(409, "JOB_ALREADY_FINISHED", "the job has already ended", {"job_id": job_id}) from exc
        if row is None:
            raise ApiError(404, "JOB_NOT_FOUND", f"no job {job_id}")
        with connections.transaction() as conn:
            return present_job(conn, row)


@blp.route("/<job_id>/events")
class JobEvents(MethodView):
    @require_key
    @blp.arguments(EventListQuery(), location="query")
    @blp.response(200, EventListSchema)
    def get(self, query, job_id: str):
        """The job's history: state changes, progress, retries, errors."""
        with connections.transaction() as conn:
            job_or_404(conn, job_id)
            return {"items": [event_view(e) for e in jobstore.list_events(conn, job_id, after=query["after"])]}


@blp.route("/<job_id>/artifacts/<name>")
class JobArtifact(MethodView):
    @require_key
    @blp.response(200, description="the artifact's bytes, streamed")
    def get(self, job_id: str, name: str):
        """Download an artifact (streamed from storage)."""
        with connections.transaction() as conn:
            job_or_404(conn, job_id)
            art = jobstore.get_artifact(conn, job_id, name)
        if art is None:
            raise ApiError(404, "ARTIFACT_NOT_FOUND", f"job {job_id} has no artifact {name!r}")
        chunks = connections.storage().iter_chunks(art["key"])
        headers = {"Content-Length": str(art["size"]), "ETag": f'"{art["sha256"]}"',
                   "Content-Disposition": f'attachment; filename="{art["name"]}"'}
        return Response(stream_with_context(chunks), mimetype=art["media_type"], headers=headers)


@blp.route("/<job_id>/webhooks")
class JobWebhooks(MethodView):
    @require_key
    @blp.response(200)
    def get(self, job_id: str):
        """Every webhook delivery attempt for the job: event, attempt, status, error, duration."""
        with connections.transaction() as conn:
            job_or_404(conn, job_id)
            rows = jobstore.list_deliveries(conn, job_id)
        return {"items": [{"message_id": r["message_id"], "event_type": r["event_type"], "attempt": r["attempt"],
                           "status_code": r["status_code"], "error": r["error"], "delivered": r["delivered"],
                           "duration_ms": r["duration_ms"], "at": iso(r["at"])} for r in rows]}
