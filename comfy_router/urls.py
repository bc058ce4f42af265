"""Routes. App routes live in each app's urls.py; every route needs Basic auth but those listed in
comfy_router.auth.PUBLIC_PATHS."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from comfy_router import views

# The docs answer GET and HEAD only: DRF's OPTIONS answer would go through the Swagger view's
# HTML renderer, which has no template for it (a 500).
DOC_METHODS = ["get", "head"]

urlpatterns = [
    path("", views.front_door, name="front-door"),
    path("health_check", views.health_check, name="health-check"),
    path(
        "doc",
        SpectacularSwaggerView.as_view(url_name="openapi-schema", http_method_names=DOC_METHODS),
        name="doc",
    ),
    path(
        "doc/openapi.json",
        SpectacularJSONAPIView.as_view(http_method_names=DOC_METHODS),
        name="openapi-schema",
    ),
    path("admin/", admin.site.urls),
    path("", include("nodes.urls")),
    path("", include("workflows.urls")),
    # ComfyUI's own API, at both places ComfyUI serves it.
    path("", include(("workflows.comfyui_api.urls", "comfyui"), namespace="comfyui")),
    path("api/", include(("workflows.comfyui_api.urls", "comfyui"), namespace="comfyui-api")),
]

handler400 = "comfy_router.errors.json_bad_request"
handler403 = "comfy_router.errors.json_permission_denied"
handler404 = "comfy_router.errors.json_not_found"
handler500 = "comfy_router.errors.json_server_error"

admin.site.site_header = "Comfy Router"
admin.site.site_url = "/doc"  # "View site": the API's docs, the router's other face
admin.site.site_title = "Comfy Router"
admin.site.index_title = "Nodes, tasks and cache"
admin.site.index_template = "admin/pool_index.html"  # the pool at a glance above the app list
