"""Live updates: runs publish task events to a channel-layer group per task, which the task
websocket (`workflows.api.consumers`) relays to clients, whichever process they are connected to.

Events sent to clients (JSON): `{"type": "status", "status", "node"}`, `{"type": "progress",
"progress"}`, `{"type": "preview", "preview": <data URL>}`, and one final
`{"type": "finished", "status", "task": <the task as GET /workflow/{id} shows it>}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from comfy_router.wakeups import local_dispatcher
from workflows.models import Task
from workflows.tasks.selectors import task_detail

logger = logging.getLogger(__name__)


# ComfyUI's previews are at most 512 px (tens of KB); a node that sends a far bigger one would put
# megabytes through Redis per step for every watcher. Such a preview is stored (GET shows it) but
# not broadcast.
MAX_LIVE_PREVIEW_CHARS = 1024 * 1024


def group_name(task_id: uuid.UUID | str) -> str:
    return f"task-{uuid.UUID(str(task_id)).hex}"


async def publish(task_id: uuid.UUID | str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if event.get("type") == "preview" and len(event.get("preview", "")) > MAX_LIVE_PREVIEW_CHARS:
        logger.debug("Task %s: preview too large to broadcast", task_id)
        return
    try:
        await layer.group_send(group_name(task_id), {"type": "task.event", "event": event})
    except Exception:  # live updates are best effort; the task itself must go on
        logger.warning("Could not publish %s for task %s", event.get("type"), task_id, exc_info=True)


def comfy_client_group(client_id: str, submitter: int | None) -> str:
    """The group of the `/ws` websockets opened under one ComfyUI client id by one submitter
    (an API client; None: the operator): a client id chosen by one API client reaches nothing
    of another's. Hashed: a client id may be any string, a group name only a short ASCII one."""
    key = f"{submitter or ''}:{client_id}".encode("utf-8", "surrogatepass")
    return "comfyws-" + hashlib.sha256(key).hexdigest()[:40]


async def publish_comfy(
    client_id: str,
    submitter: int | None,
    *,
    text: str | None = None,
    data: bytes | None = None,
    texts: list[str] | None = None,
    prompt_id: str | None = None,
) -> None:
    """Sends ComfyUI websocket messages to the client's `/ws` websockets, in whichever process
    they are connected to: one JSON `text` or binary frame (`data`), or the `texts` that end
    `prompt_id` (sent once per websocket: see `workflows.comfyui_api.consumers`). A `prompt_id`
    with a `text` tells the websockets of a prompt to watch for its end. Best effort, like
    `publish`."""
    layer = get_channel_layer()
    if layer is None or not client_id:
        return
    message: dict[str, Any] = {
        "type": "comfy.closing" if texts is not None else "comfy.message",
        "text": text,
        "bytes": data,
        "texts": texts,
        "prompt_id": prompt_id,
    }
    try:
        await layer.group_send(comfy_client_group(client_id, submitter), message)
    except Exception:  # live updates are best effort; the task itself must go on
        logger.warning("Could not relay a message to ComfyUI client %s", client_id, exc_info=True)


def publish_comfy_soon(client_id: str, submitter: int | None, **message: Any) -> None:
    """`publish_comfy` from a request thread: handed to this process's event loop without
    waiting where one runs the dispatcher (the answer goes out meanwhile), else sent here."""
    if not local_dispatcher.run_soon(publish_comfy(client_id, submitter, **message)):
        async_to_sync(publish_comfy)(client_id, submitter, **message)


def final_event(task: Task) -> dict[str, Any]:
    """The last event of a task that ended, with the task as `GET /workflow/{id}` shows it."""
    detail = json.loads(json.dumps(task_detail(task), cls=DjangoJSONEncoder))
    return {"type": "finished", "status": task.status, "task": detail}

