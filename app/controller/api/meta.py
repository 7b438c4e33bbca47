"""Unauthenticated endpoints: the platform description, API info and health."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.controller.api import openapi
from app.controller.context import services

bp = Blueprint("meta", __name__)

BUILD = "2026-11-30T00:00:00Z"  # wsk's tests expect the build to start with "20"


@bp.get("/")
def root() -> Response:
    """The runtimes manifest and limits; wskdeploy reads this before anything else."""
    s = services()
    limits = s.settings.limits
    body = {
        "description": "Squall, an OpenWhisk-compatible platform",
        "api_paths": ["/api/v1"],
        "limits": {
            "actions_per_minute": limits.invocations_per_minute,
            "triggers_per_minute": limits.fires_per_minute,
            "concurrent_actions": limits.concurrent_invocations,
            "max_action_duration": limits.max_timeout_ms,
            "min_action_duration": limits.min_timeout_ms,
            "max_action_memory": limits.max_memory_mb * 1_048_576,
            "min_action_memory": limits.min_memory_mb * 1_048_576,
            "max_action_logs": limits.max_logs_mb * 1_048_576,
            "min_action_logs": limits.min_logs_mb * 1_048_576,
            "sequence_length": limits.sequence_max_length,
        },
        "runtimes": s.manifest.to_api()["runtimes"],
    }
    return jsonify(body)


@bp.get("/api/v1")
def api_info() -> Response:
    return jsonify({
        "description": "OpenWhisk API",
        "api_version": "1.0.0",
        "api_version_path": "v1",
        "build": BUILD,
        "buildno": "squall-0.1.0",
        "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
    })


@bp.get("/api/v1/api-docs")
def api_docs() -> Response:
    """The OpenAPI 3 document of every route, as ``swagger_paths`` above says (no key needed, as OpenWhisk)."""
    return jsonify(openapi.document(services().manifest.valid_kinds()))


@bp.get("/ping")
def ping() -> Response:
    return Response("pong", mimetype="text/plain")
