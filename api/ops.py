"""Operations: health, Prometheus metrics, stats, dead letters, API keys."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import current_key, owner_filter, require_admin, require_key
from api.errors import ApiError
from api.metrics import REGISTRY
from api.schemas import BIGINT_MAX, INT_MAX, page_field
from tasks import connections, jobstore
from tasks.app import app as celery_app
from tasks.jobview import iso
from tasks.maintenance import redrive
from tasks.submit import OPERATIONS

blp = Blueprint("ops", __name__, url_prefix="/api/v1", description="Health, metrics, stats, operations")


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict()


def _check(fn) -> dict:
    try:
        fn()
        return {"ok": True}
    except Exception as exc:  # a health check reports any failure
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _ping_database() -> None:
    with connections.transaction() as conn:
        conn.execute(sa.text("SELECT 1"))


def _ping_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="a dependency is down")
    def get(self):
        """Broker, database and storage reachability (no auth)."""
        checks = {"database": _check(_ping_database), "broker": _check(_ping_broker),
                  "storage": _check(lambda: connections.storage().ping())}
        ok = all(c["ok"] for c in checks.values())
        return {"status": "ok" if ok else "degraded", "checks": checks}, 200 if ok else 503


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, description="Prometheus text format")
    def get(self):
        """Prometheus metrics (no auth)."""
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


@blp.route("/stats")
class Stats(MethodView):
    @require_key
    @blp.response(200)
    def get(self):
        """Per domain and operation: totals by state, success rate, timings."""
        owner = owner_filter()
        with connections.transaction() as conn:
            domains = jobstore.domain_stats(conn, owner)
            for entry in domains:
                op = OPERATIONS.get((entry["domain"], entry["operation"]))
                if op is not None and op.figures is not None:
                    entry["figures"] = op.figures(conn, owner)
        return {"domains": domains}


class DeadLetterQuery(Schema):
    open_only = fields.Boolean(load_default=True)
    page = page_field()
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def _letter(row) -> dict:
    out = dict(row)
    for name in ("created_at", "next_retry_at", "resolved_at"):
        out[name] = iso(out[name])
    return out


@blp.route("/dlq")
class DeadLetters(MethodView):
    @require_admin
    @blp.arguments(DeadLetterQuery(), location="query")
    @blp.response(200)
    def get(self, query):
        """Dead letters, newest first (admin)."""
        size = query["page_size"]
        with connections.transaction() as conn:
            rows = jobstore.list_dead_letters(conn, open_only=query["open_only"], limit=size,
                                              offset=(query["page"] - 1) * size)
        return {"items": [_letter(r) for r in rows]}


@blp.route("/dlq/stats")
class DeadLetterStats(MethodView):
    @require_admin
    @blp.response(200)
    def get(self):
        """Open dead letters by kind and class (admin)."""
        with connections.transaction() as conn:
            return jobstore.dead_letter_stats(conn)


@blp.route(f"/dlq/<int(max={BIGINT_MAX}):dl_id>/retry")
class DeadLetterRetry(MethodView):
    @require_admin
    @blp.response(202)
    def post(self, dl_id: int):
        """Re-drive one dead letter now (admin)."""
        if not redrive(dl_id):
            raise ApiError(409, "DEAD_LETTER_NOT_OPEN", f"dead letter {dl_id} is resolved or missing")
        return {"redriven": dl_id}


class KeyCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    admin = fields.Boolean(load_default=False)
    credits = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT_MAX))


@blp.route("/keys")
class Keys(MethodView):
    @require_admin
    @blp.arguments(KeyCreateSchema())
    @blp.response(201)
    def post(self, body):
        """Create an API key; the token and webhook secret are shown once (admin)."""
        with connections.transaction() as conn:
            raw, key = jobstore.create_api_key(conn, body["name"], admin=body["admin"], credits=body["credits"])
        return {"id": key.id, "name": key.name, "admin": key.is_admin, "api_key": raw,
                "webhook_secret": key.webhook_secret, "credits": key.credits}

    @require_admin
    @blp.response(200)
    def get(self):
        """List API keys (admin); tokens are never shown again."""
        with connections.transaction() as conn:
            keys = jobstore.list_api_keys(conn)
        return {"items": [{"id": k.id, "name": k.name, "admin": k.is_admin, "credits": k.credits} for k in keys]}


@blp.route("/keys/<key_id>")
class Key(MethodView):
    @require_admin
    @blp.response(204)
    def delete(self, key_id: str):
        """Revoke an API key (admin)."""
        with connections.transaction() as conn:
            if not jobstore.revoke_api_key(conn, key_id):
                raise ApiError(404, "KEY_NOT_FOUND", f"no active key {key_id}")
        return None


@blp.route("/me")
class Me(MethodView):
    @require_key
    @blp.response(200)
    def get(self):
        """The calling key: id, name, admin, credits, webhook secret (to verify webhooks)."""
        key = current_key()
        return {"id": key.id, "name": key.name, "admin": key.is_admin, "credits": key.credits,
                "webhook_secret": key.webhook_secret}
