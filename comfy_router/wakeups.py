"""Nudges between the router's parts through the channel layer, so they work across processes.

`dispatch_wakeup()` asks the dispatcher to look for work now (a task was submitted, a node
turned idle or was added, a download finished); the dispatcher's 1-second sweep is the backstop
when a nudge is lost.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

DISPATCH_CHANNEL = "comfy-router-dispatch"


async def dispatch_wakeup() -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.send(DISPATCH_CHANNEL, {"type": "dispatch.wakeup"})
    except Exception:  # a full channel means a wake-up is already waiting
        logger.debug("dispatch wake-up not sent", exc_info=True)


def dispatch_wakeup_sync() -> None:
    async_to_sync(dispatch_wakeup)()
