"""`WS /ws?clientId=ID`: ComfyUI's websocket over the pool. The first frame is `status`; then
the messages of that client's prompts, relayed from whichever node runs each one
(`workflows.execution.comfy_relay`) and ended by the router once each task has ended
(`workflows.tasks.endings.tell_comfy_client`).

Relayed messages are best effort (a worker may die between ending a task and telling anyone),
so the websocket also watches its client's unfinished prompts in the database and ends, itself,
any that ended without its hearing: a client waiting for its end marker always gets one.
"""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db.models import Q
from django.utils import timezone

from comfy_router.auth import Principal
from comfy_router.consumers import DirectDispatch
from workflows.api.task_events import FINAL_CHECK_INTERVAL
from workflows.comfyui.events import (
    EVENT_PREVIEW_WITH_METADATA,
    IMAGE_FORMATS,
    encode_preview,
    preview_with_metadata,
)
from workflows.comfyui_api.pool import server_features
from workflows.models import Task
from workflows.tasks import comfy_shapes
from workflows.tasks.live import comfy_client_group
from workflows.tasks.selectors import unfinished_count

MAX_CLIENT_ID_CHARS = 256
FORMAT_CODES = {content_type: code for code, content_type in IMAGE_FORMATS.items()}


class ComfyUIWebsocket(DirectDispatch, AsyncWebsocketConsumer):
    client_id = ""
    preview_metadata = False  # the client said it reads previews with metadata (event 4)
    checker: asyncio.Task[None] | None = None
    # A preview made plain (event 1) waits for the text that follows it: ComfyUI sends a
    # plain preview after its `progress`, and one with metadata (what nodes send us) before.
    held_preview: bytes | None = None

    async def connect(self) -> None:
        # Before it joins its group: a prompt that ends from here on is either heard or, ended
        # since this time, found by the first check.
        opened = timezone.now()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.client_id = (query.get("clientId") or [""])[0][:MAX_CLIENT_ID_CHARS]
        if not self.client_id:
            self.client_id = uuid.uuid4().hex  # as ComfyUI: a client without one gets one
        self.watched: set[str] = set()  # its prompts not yet ended on this websocket
        self.ended: set[str] = set()
        self.principal: Principal = self.scope["principal"]
        self.group = comfy_client_group(self.client_id, self.principal.client_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        waiting = await database_sync_to_async(unfinished_count)()
        status = comfy_shapes.status_message(waiting, sid=self.client_id)
        await self.send(text_data=json.dumps(status))
        self.checker = asyncio.ensure_future(self.check_for_ends(opened))

    def unfinished(self, since: datetime) -> list[str]:
        """This client's prompts still to end, or ended `since`."""
        mine = Task.objects.filter(
            Q(status__in=Task.UNFINISHED) | Q(finished_at__gte=since),
            comfy_client_id=self.client_id,
            submitted_by_id=self.principal.client_id,  # the same group as comfy_client_group's
        )
        return [str(pk) for pk in mine.values_list("pk", flat=True)]

    async def disconnect(self, code: int) -> None:
        if self.checker is not None and self.checker is not asyncio.current_task():
            self.checker.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        """A client says which features it reads (`feature_flags`), and hears the server's, as
        ComfyUI answers; anything else it sends is ignored."""
        if text_data is None or len(text_data) > 64 * 1024:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "feature_flags":
            flags = message.get("data")
            self.preview_metadata = isinstance(flags, dict) and bool(
                flags.get("supports_preview_metadata")
            )
            await self.send(
                text_data=json.dumps({"type": "feature_flags", "data": server_features()})
            )

    async def comfy_message(self, message: dict[str, Any]) -> None:
        prompt_id = message.get("prompt_id")
        if prompt_id is not None:
            if prompt_id in self.ended:
                return
            self.watched.add(prompt_id)
        if message.get("text") is not None:
            await self.send(text_data=message["text"])
            await self.send_held_preview()
        elif message.get("bytes") is not None:
            frame = message["bytes"] if self.preview_metadata else plain_preview(message["bytes"])
            if frame is None:
                return
            if frame is message["bytes"]:
                await self.send(bytes_data=frame)
            else:
                await self.send_held_preview()
                self.held_preview = frame

    async def send_held_preview(self) -> None:
        frame, self.held_preview = self.held_preview, None
        if frame is not None:
            await self.send(bytes_data=frame)

    async def comfy_closing(self, message: dict[str, Any]) -> None:
        await self.close_prompt(message["prompt_id"], message["texts"])

    async def close_prompt(self, prompt_id: str, texts: list[str]) -> None:
        if prompt_id in self.ended:
            return
        self.ended.add(prompt_id)
        self.watched.discard(prompt_id)
        await self.send_held_preview()
        for text in texts:
            await self.send(text_data=text)

    async def check_for_ends(self, opened: datetime) -> None:
        """Every FINAL_CHECK_INTERVAL, closes the prompts watched here that ended unheard. Which
        of the client's prompts were still to end when the websocket opened is looked up with
        the first check, not at once: a client posts the moment it has its first status, and
        that lookup would hold up its POST on the database thread."""
        first = True
        while True:
            await asyncio.sleep(FINAL_CHECK_INTERVAL)
            if first:
                first = False
                self.watched.update(await database_sync_to_async(self.unfinished)(opened))
                self.watched -= self.ended
            if not self.watched:
                continue
            for prompt_id, texts in await database_sync_to_async(self.unheard_ends)():
                await self.close_prompt(prompt_id, texts)

    def unheard_ends(self) -> list[tuple[str, list[str]]]:
        """The closing messages of watched prompts that ended, as their ending would have sent
        them (the queue length is now's)."""
        ended = list(
            Task.objects.filter(pk__in=list(self.watched), status__in=Task.FINISHED).defer(
                "graph", "preview"
            )
        )
        if not ended:
            return []
        waiting = unfinished_count()
        return [(str(task.pk), comfy_shapes.closing_texts(task, waiting)) for task in ended]


def plain_preview(frame: bytes) -> bytes | None:
    """A preview with metadata (event 4) as a client that did not ask for metadata reads it
    (event 1: format code, then the image); other frames as they are. None: an image format
    event 1 cannot name."""
    if len(frame) < 8 or struct.unpack(">I", frame[:4])[0] != EVENT_PREVIEW_WITH_METADATA:
        return frame
    preview = preview_with_metadata(frame)
    if preview is None:
        return None
    metadata, image = preview
    code = FORMAT_CODES.get(metadata.get("image_type"))
    return None if code is None else encode_preview(code, image)
