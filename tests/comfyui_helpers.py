"""Helpers for tests that drive a (fake) ComfyUI node through workflows.comfyui.client."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from workflows.comfyui.client import ComfyUIClient, Event, PromptTracker


async def run_prompt(
    client: ComfyUIClient,
    graph: dict[str, Any],
    *,
    output_node: str | None = None,
    extra_data: dict[str, Any] | None = None,
    preview_metadata: bool = True,
    timeout: float = 10,
    events: list[Event] | None = None,
) -> PromptTracker:
    """Connect, submit, and follow the prompt until its end marker."""
    client_id = uuid.uuid4().hex
    async with client.websocket(client_id, preview_metadata=preview_metadata) as stream:
        prompt_id = await client.submit_prompt(graph, client_id, extra_data=extra_data)
        tracker = PromptTracker(graph, prompt_id, output_node)

        async def follow() -> None:
            async for event in stream:
                if events is not None:
                    events.append(event)
                tracker.feed(event)
                if tracker.ended:
                    return

        await asyncio.wait_for(follow(), timeout)
    return tracker
