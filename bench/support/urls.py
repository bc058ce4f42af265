"""The router's routes plus one bare JSON view, for bench/api.py only (bench/support/serve.py)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from comfy_router.urls import handler400, handler403, handler404, handler500
from comfy_router.urls import urlpatterns as product


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare", bare), *product]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
