from __future__ import annotations

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    default_auto_field = "django.db.models.BigAutoField"
    background_services = [
        "workflows.dispatch.loop.run",
        "workflows.comfyui_api.upload_store.sweep_abandoned_staging",
    ]
    worker_channels = {"comfy-router-execute": "workflows.execution.start.ExecutorConsumer"}
