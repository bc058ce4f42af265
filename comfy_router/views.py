"""Endpoints that belong to the router as a whole rather than to one app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe


@csrf_exempt
@require_safe
def health_check(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@csrf_exempt
@require_safe
def front_door(request: HttpRequest) -> HttpResponse:
    """`GET /`: a person (a browser asks for HTML) goes to the admin, a program to the API's docs;
    both ask for the credentials themselves."""
    wants_html = "text/html" in request.headers.get("Accept", "")
    return HttpResponseRedirect("/admin/" if wants_html else "/doc")
