from __future__ import annotations

from django.urls import path

from workflows.api.consumers import TaskWatchConsumer

websocket_urlpatterns = [
    path("ws/workflow/<str:task_id>", TaskWatchConsumer.as_asgi()),
]
