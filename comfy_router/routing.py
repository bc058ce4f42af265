"""Websocket routes of every app, gathered in one list for the ASGI router, and a last route
that refuses any other path as the task route refuses an unknown task (close code 4404)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from comfy_router.consumers import DirectDispatch
from workflows.routing import websocket_urlpatterns as workflow_websockets


class NoRouteConsumer(DirectDispatch, AsyncWebsocketConsumer):
    """Refuses the handshake: without it, the router raised for a path it does not know, which
    was a 500 and a traceback in the log."""

    async def connect(self) -> None:
        await self.close(code=4404)


websocket_urlpatterns: list[Any] = [
    *workflow_websockets,
    re_path(r"", NoRouteConsumer.as_asgi()),
]
