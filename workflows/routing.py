from __future__ import annotations

from django.urls import path, re_path

from workflows.api.consumers import TaskWatchConsumer
from workflows.comfyui_api.consumers import ComfyUIWebsocket

websocket_urlpatterns = [
    path("ws/workflow/<str:task_id>", TaskWatchConsumer.as_asgi()),
    # ComfyUI's own websocket, at both places ComfyUI serves it.
    re_path(r"^(api/)?ws$", ComfyUIWebsocket.as_asgi()),
]
