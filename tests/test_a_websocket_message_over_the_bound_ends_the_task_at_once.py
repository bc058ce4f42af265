"""A node that sends a websocket message past the bound (MAX_NODE_MESSAGE_BYTES, 256 MiB) ends
its task at once with an error naming the node and the bound: the same prompt would only send
it again, so there is nothing to reconnect for."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from nodes.models import Node
from tests.support.cluster import tiny_graph
from tests.support.garbage_comfyui import GarbageNode
from workflows.comfyui.client import ComfyUIClient
from workflows.execution import run
from workflows.execution.run import TaskRun
from workflows.models import Task
from workflows.scheduling.assignment import task_to_run

pytestmark = pytest.mark.django_db(transaction=True)

BOUND = 4096


@pytest.fixture
def garbage(tmp_path: Path) -> Iterator[GarbageNode]:
    node = GarbageNode(tmp_path / "comfyui", frame_bytes=BOUND + 1)
    yield node
    node.close()


def running_task(url: str) -> Task:
    node = Node.objects.create(url=url, status=Node.Status.BUSY, held=1)
    task = Task.objects.create(
        type="ComfyUI", params={}, graph=tiny_graph(1), status=Task.Status.RUNNING, node=node,
        prompt_id=str(uuid.uuid4()), client_id=uuid.uuid4().hex, prompt_started=True,
        lease_owner="us", lease_expires_at=timezone.now() + timedelta(minutes=1),
        started_at=timezone.now(), attempts=1,
    )
    found = task_to_run(task.pk)
    assert found is not None
    return found


async def test_the_task_ends_with_an_error_naming_the_node_and_the_bound(
    garbage: GarbageNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        run.node_clients, "get",
        lambda url, token=None: ComfyUIClient(url, max_message_bytes=BOUND),
    )
    task = await database_sync_to_async(running_task)(garbage.url)
    started = time.monotonic()
    outcome = await TaskRun(task, "us", fresh=True).run()
    assert outcome is not None and outcome.status == Task.Status.ERROR
    assert outcome.error is not None
    assert garbage.url in outcome.error.message and f"over {BOUND} bytes" in outcome.error.message
    assert time.monotonic() - started < 2  # no reconnecting, no waiting for a deadline
