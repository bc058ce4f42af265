"""Declares, on every operation of the OpenAPI schema, the error answers the whole API shares.

Views declare their own outcomes; the answers that come from the middleware and the error
handler (400 for bad input, 401 without credentials, 404 for an unknown id, 413 for a body over
COMFY_ROUTER__MAX_REQUEST_BYTES) are the same everywhere, so they are added here, all with the
one error shape.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from comfy_router.auth import OPERATOR_ONLY

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "detail": {"type": "object", "additionalProperties": {}},
    },
    "required": ["message", "detail"],
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def shared_error_responses(path: str, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    limit = settings.ROUTER.max_request_bytes
    shared: dict[str, dict[str, Any]] = {}
    queried = any(param.get("in") == "query" for param in operation.get("parameters", []))
    if queried or operation.get("requestBody"):
        shared["400"] = _error("Invalid input; `detail` maps each field path to its problems.")
    if operation.get("security"):
        shared["401"] = _error(
            "Missing or wrong credentials: the operator's HTTP Basic pair, or a client's API key "
            "(Bearer, or ?token=)."
        )
    if operation.get("security") and OPERATOR_ONLY.match(path):
        shared["403"] = _error("An API key: this route is the operator's only.")
    if "{" in path:
        shared["404"] = _error("No such object (or a malformed id).")
    if operation.get("requestBody"):
        shared["413"] = _error(
            f"The body is larger than COMFY_ROUTER__MAX_REQUEST_BYTES ({limit} bytes here)."
        )
    return shared


def document_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR_SCHEMA)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in shared_error_responses(path, operation).items():
                responses.setdefault(code, response)
            for code, response in responses.items():
                if str(code).startswith(("4", "5")) and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return result
