from __future__ import annotations

from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "nodes"
    verbose_name = "ComfyUI nodes"
    default_auto_field = "django.db.models.BigAutoField"
    background_services = ["nodes.health.run"]
