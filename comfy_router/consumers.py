"""What every consumer of the router shares."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name


class DirectDispatch:
    """Hands each message straight to its handler.

    Channels' `AsyncConsumer.dispatch` first sends Django's stale-connection check
    (`close_old_connections`) to the database thread, the one thread every database call of the
    process queues on. A relayed websocket message then waited behind whatever database work was
    under way: 8–10 ms behind a run's ending under load, on every message of a prompt's end, for
    every watcher. Our handlers reach the database only through `database_sync_to_async`, which
    runs the same check in that thread before and after each call; a message that needs no
    database pays nothing."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
