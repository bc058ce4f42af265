"""The websocket side of the ASGI application, as comfy_router.asgi builds it, for
WebsocketCommunicator tests in process (importing comfy_router.asgi itself would freeze the test
process's heap)."""

from __future__ import annotations

import base64

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from comfy_router.auth import WebsocketBasicAuthMiddleware
from comfy_router.routing import websocket_urlpatterns

AUTH_HEADERS = [(b"authorization", b"Basic " + base64.b64encode(b"admin:admin"))]


def websocket_to(path: str) -> WebsocketCommunicator:
    application = WebsocketBasicAuthMiddleware(URLRouter(websocket_urlpatterns))
    return WebsocketCommunicator(application, path, headers=AUTH_HEADERS)
