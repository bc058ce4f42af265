"""Live previews stay small enough for the channel layer: an oversized one is not broadcast
(GET /workflow/{id} still shows it), a normal one is."""

from __future__ import annotations

import asyncio
import uuid

from channels.layers import get_channel_layer

from workflows.tasks import live


async def received_after_publishing(preview: str) -> list[dict]:
    layer = get_channel_layer()
    task_id = uuid.uuid4()
    channel = await layer.new_channel()
    await layer.group_add(live.group_name(task_id), channel)
    await live.publish(task_id, {"type": "preview", "preview": preview})
    await live.publish(task_id, {"type": "progress", "progress": 0.5})
    events = []
    while True:
        message = await asyncio.wait_for(layer.receive(channel), 5)
        events.append(message["event"])
        if message["event"]["type"] == "progress":
            return events


async def test_a_normal_preview_is_broadcast() -> None:
    preview = "data:image/jpeg;base64," + "A" * 60_000
    events = await received_after_publishing(preview)
    assert [event["type"] for event in events] == ["preview", "progress"]


async def test_an_oversized_preview_is_not_broadcast() -> None:
    preview = "data:image/png;base64," + "A" * live.MAX_LIVE_PREVIEW_CHARS
    events = await received_after_publishing(preview)
    assert [event["type"] for event in events] == ["progress"]
