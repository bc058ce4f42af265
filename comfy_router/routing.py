"""Websocket routes of every app, gathered in one list for the ASGI router."""

from __future__ import annotations

from typing import Any

from workflows.routing import websocket_urlpatterns as workflow_websockets

websocket_urlpatterns: list[Any] = [*workflow_websockets]
