"""Finding and presenting job rows for the calling key (presigned links where the storage has them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from api.auth import owner_filter
from api.errors import ApiError
from tasks import connections, jobstore
from tasks.jobview import job_view
from tasks.settings import get_settings


def job_or_404(conn: Connection, job_id: str) -> RowMapping:
    """The job if the calling key may see it (admins see all), else 404 JOB_NOT_FOUND."""
    row = jobstore.get_job(conn, job_id, owner=owner_filter())
    if row is None:
        raise ApiError(404, "JOB_NOT_FOUND", f"no job {job_id}")
    return row


def present_job(conn: Connection | None, row: RowMapping) -> dict[str, Any]:
    """The job view; ``conn`` None means the job has no artifacts yet (just queued)."""
    return _present(row, jobstore.list_artifacts(conn, row["id"]) if conn is not None else [])


def present_jobs(conn: Connection, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Views of a page of jobs, their artifacts read in one query."""
    arts = jobstore.artifacts_of(conn, [r["id"] for r in rows])
    return [_present(r, arts.get(r["id"], [])) for r in rows]


def _present(row: RowMapping, arts: Sequence[RowMapping]) -> dict[str, Any]:
    settings = get_settings()
    view = job_view(row, arts, settings.public_url)
    storage = connections.storage()
    for art, item in zip(arts, view["artifacts"], strict=True):
        link = storage.presigned_url(art["key"], art["name"], settings.presign_seconds)
        if link:
            item["download_url"] = link
    return view
