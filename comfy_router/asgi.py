"""ASGI entry point: HTTP goes to Django, websockets to the live-update consumers, and named
channels to the worker consumers that own ComfyUI sessions (`serve` and `worker` run those).

`manage.py serve` runs it (and `serve --api-only`, an API process of a scaled-out router, beside
the `worker` processes): no background services start here. Any ASGI server can serve it too,
`daphne comfy_router.asgi:application` for one, but without the patches `serve` installs in Daphne
(comfy_router.server_patches)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comfy_router.settings")

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from comfy_router.config import load_config  # noqa: E402

try:
    load_config()
except ImproperlyConfigured as error:  # one line for the operator, as manage.py does
    sys.exit(f"comfy-router: configuration error: {error}")

from comfy_router.http_handler import get_http_application  # noqa: E402

django_application = get_http_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from comfy_router.auth import WebsocketBasicAuthMiddleware  # noqa: E402
from comfy_router.background import registered_worker_channels  # noqa: E402
from comfy_router.heap import freeze_startup_heap  # noqa: E402
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

# Everything a server process needs is loaded: see comfy_router.heap.
freeze_startup_heap()
