"""Endpoints that belong to the router as a whole rather than to one app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe


@csrf_exempt
@require_safe
def health_check(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
