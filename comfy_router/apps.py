from __future__ import annotations

from django.apps import AppConfig


class ComfyRouterConfig(AppConfig):
    name = "comfy_router"
    verbose_name = "Comfy Router"
    background_services = [
        "comfy_router.counters.run",
        "comfy_router.sqlite_backend.checkpoints.run",
        "comfy_router.heartbeat.run",
    ]
