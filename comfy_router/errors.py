"""The one error shape of the API: `{"message": str, "detail": {field path: [messages]}}`."""

from __future__ import annotations

import logging
from typing import Any, Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from comfy_router.limits import too_large_body, too_large_response

logger = logging.getLogger(__name__)


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turns DRF's nested errors into field paths: `{"params": {"loras": [{}, {"weight": [..]}]}}`
    becomes `{"params.loras[1].weight": [..]}`."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            name = prefix if key == "non_field_errors" and prefix else _join(prefix, str(key))
            for path, messages in flatten_errors(value, name).items():
                flat.setdefault(path, []).extend(messages)
        return flat
    if isinstance(errors, list) and any(isinstance(item, (dict, list)) for item in errors):
        flat = {}
        for index, item in enumerate(errors):
            if isinstance(item, (dict, list)):
                for path, messages in flatten_errors(item, f"{prefix}[{index}]").items():
                    flat.setdefault(path, []).extend(messages)
            elif item:
                flat.setdefault(prefix or "body", []).append(str(item))
        return flat
    if isinstance(errors, list):
        return {prefix or "body": [str(item) for item in errors]} if errors else {}
    return {prefix or "body": [str(errors)]}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def error_summary(detail: dict[str, list[str]]) -> str:
    """One line for flattened errors (`flatten_errors`): the first, naming its field."""
    if not detail:
        return "Invalid request."
    path, messages = next(iter(detail.items()))
    more = f" (and {len(detail) - 1} more)" if len(detail) > 1 else ""
    if path == "body":
        return f"{messages[0]}{more}"
    return f"{path}: {messages[0]}{more}"


def error_body(message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": message, "detail": detail or {}}


def method_not_allowed_body(method: str, path: str, allowed: list[str]) -> dict[str, Any]:
    """The one 405 of every route: DRF's views and Django's alike."""
    return error_body(f"Method {method} not allowed on {path}.", {"allowed": allowed})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response(too_large_body(settings.ROUTER.max_request_bytes), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body("Internal server error."), status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    if isinstance(exc, exceptions.ValidationError):
        detail = flatten_errors(exc.detail)
        response.data = error_body(error_summary(detail), detail)
    elif isinstance(exc, exceptions.MethodNotAllowed):
        request, view = context["request"], context["view"]
        response.data = method_not_allowed_body(
            request.method, request.path, list(view.allowed_methods)
        )
    else:
        data = response.data
        message = str(data.get("detail", exc)) if isinstance(data, dict) else str(exc)
        extra = getattr(exc, "extra_detail", None)
        if extra is None and isinstance(exc, exceptions.ParseError):
            extra = {"body": [message]}  # the field is the whole body, as for a too-large one
        response.data = error_body(message, extra)
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse(error_body(f"No route for {request.path}."), status=404)


def json_server_error(request: HttpRequest) -> HttpResponse:
    return JsonResponse(error_body("Internal server error."), status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return too_large_response(settings.ROUTER.max_request_bytes)
    return JsonResponse(error_body("Bad request."), status=400)


def json_permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse(error_body("Permission denied."), status=403)


class JsonErrorMiddleware:
    """Gives every non-JSON error response outside the admin the API's error shape (Django's own
    405s, 413s and CSRF failures would otherwise be HTML or empty)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or "json" in response.get("Content-Type", "")
            or request.path_info.startswith("/admin/")
            or getattr(response, "streaming", False)
        ):
            return response
        replacement = JsonResponse(
            error_body(f"{response.reason_phrase} ({request.method} {request.path}).")
            if response.status_code != 405
            else method_not_allowed_body(
                request.method,
                request.path,
                [m.strip() for m in response.get("Allow", "").split(",") if m],
            ),
            status=response.status_code,
        )
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                replacement[header] = response[header]
        return replacement
