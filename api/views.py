"""Presenting job rows to clients (adds presigned links where the storage has them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from tasks import connections, jobstore
from tasks.jobview import job_view
from tasks.settings import get_settings


def present_job(conn: Connection | None, row: RowMapping) -> dict[str, Any]:
    """The job view; ``conn`` None means the job has no artifacts yet (just queued)."""
    settings = get_settings()
    arts = jobstore.list_artifacts(conn, row["id"]) if conn is not None else []
    view = job_view(row, arts, settings.public_url)
    storage = connections.storage()
    for art, item in zip(arts, view["artifacts"], strict=True):
        link = storage.presigned_url(art["key"], art["name"], settings.presign_seconds)
        if link:
            item["download_url"] = link
    return view
