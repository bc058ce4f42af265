"""ASGI entry point: HTTP goes to Django, websockets to the live-update consumers, and named
channels to the worker consumers that own ComfyUI sessions (`serve` and `runworker` run those)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comfy_router.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from comfy_router.auth import WebsocketBasicAuthMiddleware  # noqa: E402
from comfy_router.background import registered_worker_channels  # noqa: E402
from comfy_router.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": WebsocketBasicAuthMiddleware(URLRouter(websocket_urlpatterns)),
        "channel": ChannelNameRouter(
            {
                channel: import_string(consumer).as_asgi()
                for channel, consumer in registered_worker_channels().items()
            }
        ),
    }
)
