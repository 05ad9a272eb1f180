"""create_app(): the Flask application with every blueprint in ``api/``.

A blueprint registers itself by living in ``api/<name>.py`` and exposing ``blp``,
so a new domain adds its module and touches nothing here.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Flask

import api
from api.auth import install_request_context
from api.errors import MeshmillApi, register_error_handlers
from api.metrics import install_metrics
from api.multipart import install as install_multipart_decoder
from api.ratelimit import install_rate_limits
from tasks.app import app as celery_app
from tasks.logs import configure_logging
from tasks.settings import get_settings


def blueprints() -> list:
    """Every ``blp`` defined by a module of the ``api`` package, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules(api.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "cli":
            continue
        module = importlib.import_module(f"api.{info.name}")
        if hasattr(module, "blp"):
            found.append(module.blp)
    return found


def create_app() -> Flask:
    settings = get_settings()
    configure_logging(settings.log_level)
    install_multipart_decoder()
    celery_app.loader.import_default_modules()  # registers every domain's operations
    app = Flask("meshmill")
    app.config.update(
        API_TITLE="Meshmill", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        MAX_FORM_MEMORY_SIZE=1 << 20,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    smorest = MeshmillApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    app.extensions["meshmill_api"] = smorest
    for blp in blueprints():
        smorest.register_blueprint(blp)
    install_request_context(app)
    install_rate_limits(app)
    install_metrics(app)
    register_error_handlers(app)
    return app
