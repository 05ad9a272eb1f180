"""ApiError and the one JSON error shape: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Flask, jsonify
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from tasks import connections

log = structlog.get_logger(__name__)

# HTTP status -> default code, for errors raised by Flask, werkzeug or webargs
STATUS_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR", 429: "RATE_LIMITED", 500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An error answer: status, UPPER_SNAKE code, message and details."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "VALIDATION_ERROR"})
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def error_response(status: int, code: str, message: str, details: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


class MeshmillApi(Api):
    """flask-smorest's Api with every HTTP error in Meshmill's shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        details: dict[str, Any] = {}
        message = error.description or STATUS_CODES.get(status, "error")
        if "messages" in data:  # webargs validation: every bad field, by location
            details = {"fields": _flatten_locations(data["messages"])}
            message = "request validation failed"
        response = error_response(status, STATUS_CODES.get(status, "HTTP_ERROR"), message, details)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response


def _flatten_locations(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors under their location (json, form, query); clients want fields."""
    flat: dict[str, Any] = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            flat.update(location_errors)
    return flat or messages


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return app.extensions["meshmill_api"].handle_http_exception(exc)
        if isinstance(exc, connections.TRANSIENT_DB_ERRORS):  # the database is down or restarting
            log.warning("request.database_unavailable", error=str(exc.orig or exc)[:300])
            response = error_response(503, "DATABASE_UNAVAILABLE", "the job database is unavailable; retry shortly")
            response.headers["Retry-After"] = "1"
            return response
        log.exception("request.crashed")
        return error_response(500, "INTERNAL_ERROR", "internal error; the request id is in the logs")
