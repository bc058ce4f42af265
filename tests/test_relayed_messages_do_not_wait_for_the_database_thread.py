"""A message relayed to a websocket goes out while the database thread is busy: the consumers
hand each message straight to its handler (`comfy_router.consumers.DirectDispatch`). Channels'
own dispatch first queued a stale-connection check on the database thread, the one thread every
`database_sync_to_async` call of the process queues on, so each relayed message waited behind
whatever database work was under way (a run's ending, say).

The database thread is held here by a call that waits on an event set only after the message
has been received: without direct dispatch, the message could not arrive before that."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from channels.db import database_sync_to_async

from tests.support.websockets import websocket_to
from workflows.models import Task
from workflows.tasks.live import publish, publish_comfy

pytestmark = pytest.mark.django_db(transaction=True)

RECEIVE_TIMEOUT = 3  # seconds; a bound on a message that needs no database, not a timing


@asynccontextmanager
async def database_thread_held() -> AsyncIterator[None]:
    """The database thread, busy in a call that ends when the block is left."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(timeout=30)  # a safety net only: the block's end releases it

    held = asyncio.ensure_future(database_sync_to_async(hold)())
    try:
        assert await asyncio.to_thread(entered.wait, 10), "the database thread never came free"
        yield
    finally:
        release.set()
        await held


async def test_a_comfyui_websocket_hears_a_relayed_message_while_the_database_thread_is_busy() -> (
    None
):
    communicator = websocket_to("/ws?clientId=patient-client")
    connected, _ = await communicator.connect()
    assert connected
    assert json.loads(await communicator.receive_from())["type"] == "status"
    text = json.dumps({"type": "progress", "data": {"value": 1, "max": 2}})
    async with database_thread_held():
        await publish_comfy("patient-client", None, text=text)
        assert await communicator.receive_from(timeout=RECEIVE_TIMEOUT) == text
    await communicator.disconnect()


@pytest.fixture
def running_task() -> Task:
    return Task.objects.create(type="ComfyUI", params={}, graph={}, status=Task.Status.RUNNING)


async def test_a_task_watcher_hears_a_relayed_event_while_the_database_thread_is_busy(
    running_task: Task,
) -> None:
    communicator = websocket_to(f"/ws/workflow/{running_task.id}")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["status"] == "running"
    async with database_thread_held():
        await publish(running_task.id, {"type": "progress", "progress": 0.5})
        event = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        assert event == {"type": "progress", "progress": 0.5}
    await communicator.disconnect()
