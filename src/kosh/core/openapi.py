"""The OpenAPI document tells the truth about errors.

Every operation answers its errors as `application/problem+json` (`kosh.core.errors`), so the
generated document lists, for every operation, the 4xx answers KOSH can give with one shared
`Problem` schema, replacing FastAPI's default `422 HTTPValidationError` (which KOSH never
sends). A client generated from the document then knows every error it can meet.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from kosh.core.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

# RFC 9457 plus KOSH's members; features add more (`available`, `retry_after`, ...).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error (RFC 9457). `code` is stable; `errors` names the fields at fault.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:kosh:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "machine-readable reason"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
    },
    "additionalProperties": True,
}

# What any operation can answer: a malformed body, no or a bad login, a missing role or scope,
# an unknown id or address, a wrong method, a conflict (stale version, idempotency key in
# use), a body too large, an unsupported media type, invalid input, too many requests.
ERROR_STATUSES: dict[int, str] = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Forbidden (role, scope or CSRF)",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
}


def add_problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every operation's 4xx answers as problem+json with the shared schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in ERROR_STATUSES.items():
                answer = responses.setdefault(str(status), {"description": description})
                if answer.get("description") == "Validation Error":
                    answer["description"] = description
                answer["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            operation["responses"] = dict(sorted(responses.items()))
    for unused in ("HTTPValidationError", "ValidationError"):
        if not _referenced(schema, f"#/components/schemas/{unused}"):
            components.pop(unused, None)
    return schema


def _referenced(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_referenced(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_referenced(v, ref) for v in node)
    return False


def install_problem_responses(app: FastAPI) -> None:
    """Make `app.openapi()` (and /api/openapi.json) document the problem+json answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = add_problem_responses(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
