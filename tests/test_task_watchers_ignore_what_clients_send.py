"""`WS /ws/workflow/{id}` is for listening: what a client sends (JSON, other text, binary frames)
is ignored and the watch goes on. Other text or a binary frame used to crash the consumer, which
closed the socket with 1011 and no final event."""

from __future__ import annotations

import pytest

from tests.support.websockets import websocket_to
from workflows.models import Task
from workflows.tasks.live import publish

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running_task() -> Task:
    return Task.objects.create(type="ComfyUI", params={}, graph={}, status=Task.Status.RUNNING)


@pytest.mark.parametrize(
    "frame",
    [{"text_data": "not json"}, {"bytes_data": b"\x00\xff"}, {"text_data": '{"type": "cancel"}'}],
    ids=["text", "binary", "json"],
)
async def test_a_watcher_that_sends_a_frame_still_gets_the_next_events(
    running_task: Task, frame: dict
) -> None:
    communicator = websocket_to(f"/ws/workflow/{running_task.id}")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["status"] == "running"
    await communicator.send_to(**frame)
    await communicator.send_to(**frame)
    await publish(running_task.id, {"type": "progress", "progress": 0.5})
    assert await communicator.receive_json_from() == {"type": "progress", "progress": 0.5}
    await publish(running_task.id, {"type": "finished", "status": "done", "task": {}})
    assert (await communicator.receive_json_from())["type"] == "finished"
    assert (await communicator.receive_output())["type"] == "websocket.close"
