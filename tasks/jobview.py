"""The public shape of a job: what ``GET /jobs/<id>`` returns and webhooks carry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from tasks.jobstore import as_utc


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def artifact_url(public_url: str, job_id: str, name: str) -> str:
    return f"{public_url.rstrip('/')}/api/v1/jobs/{job_id}/artifacts/{name}"


def job_view(row: RowMapping, artifacts: Sequence[RowMapping], public_url: str) -> dict[str, Any]:
    """A job as clients see it; no lease or owner internals (and no ``result`` when the row has none:
    a listing read without it)."""
    error = None
    if row["error_code"]:
        error = {"code": row["error_code"], "message": row["error_message"] or "",
                 "details": row["error_details"] or {}, "class": row["error_class"]}
    view = {
        "id": row["id"],
        "domain": row["domain"],
        "operation": row["operation"],
        "state": row["state"],
        "progress": row["progress"],
        "message": row["message"],
        "params": row["params"],
        "input": {"name": row["input_name"], "format": row["input_format"], "size": row["input_size"],
                  "sha256": (row["input_key"] or "").rsplit("/", 1)[-1] or None},
        "error": error,
        "attempts": row["attempts"],
        "artifacts": [{"name": a["name"], "media_type": a["media_type"], "size": a["size"],
                       "sha256": a["sha256"], "url": artifact_url(public_url, row["id"], a["name"])}
                      for a in artifacts],
        "callback_url": row["callback_url"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
    }
    if "result" in row:
        view["result"] = row["result"]
    return view


def event_view(row: RowMapping) -> dict[str, Any]:
    return {"id": row["id"], "at": iso(row["at"]), "type": row["type"], "state": row["state"],
            "progress": row["progress"], "message": row["message"], "data": row["data"]}
