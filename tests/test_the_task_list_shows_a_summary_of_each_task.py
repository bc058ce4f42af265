"""`GET /workflow` shows each task as a summary: id, type, status, progress, its node's URL,
created and finished times; never its params, graph or outputs."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from nodes.models import Node
from workflows.models import Task

pytestmark = pytest.mark.django_db


def api() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def a_task(**fields: object) -> Task:
    defaults: dict[str, object] = {
        "type": "ComfyUI",
        "params": {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {}}}},
        "graph": {"1": {"class_type": "EmptyImage", "inputs": {}}},
        "client_id": uuid.uuid4().hex,
        "prompt_id": str(uuid.uuid4()),
    }
    return Task.objects.create(**{**defaults, **fields})


def test_each_task_is_listed_with_its_summary_and_its_nodes_url() -> None:
    node = Node.objects.create(url="http://127.0.0.1:8188", status=Node.Status.BUSY)
    waiting = a_task()
    done = a_task(
        status=Task.Status.DONE,
        node=node,
        progress=0.123456,
        finished_at=timezone.now(),
        outputs=[{"index": 0, "filename": "a.png"}],
    )
    results = api().get("/workflow").json()["results"]
    assert [item["id"] for item in results] == [str(done.id), str(waiting.id)]
    shown, queued = results
    assert set(shown) == {"id", "type", "status", "progress", "node", "created_at", "finished_at"}
    assert shown["status"] == "done" and shown["type"] == "ComfyUI"
    assert shown["node"] == "http://127.0.0.1:8188" and shown["progress"] == 0.1235
    assert shown["finished_at"] is not None and shown["created_at"] is not None
    assert queued["node"] is None and queued["finished_at"] is None and queued["progress"] == 0


def test_a_task_whose_node_was_deleted_is_listed_without_one() -> None:
    node = Node.objects.create(url="http://127.0.0.1:8189", status=Node.Status.IDLE)
    task = a_task(status=Task.Status.DONE, node=node, finished_at=timezone.now())
    node.delete()
    [shown] = api().get("/workflow", {"status": "done"}).json()["results"]
    assert shown["id"] == str(task.id) and shown["node"] is None
