"""A pass reads each task it started, for its run, with one statement written once
(`tasks_to_run`): every field a run reads comes back as the ORM reads it, with the node's URL and
token; a task that is not running, or has no node, is left out."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from nodes.models import Node
from workflows.models import Task
from workflows.scheduling.assignment import RUN_FIELDS, task_to_run, tasks_to_run

pytestmark = pytest.mark.django_db(transaction=True)


def a_task(**fields: object) -> Task:
    defaults: dict[str, object] = {
        "type": "ComfyUI",
        "params": {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}}},
        "graph": {"1": {"class_type": "EmptyImage", "inputs": {"width": 8}}},
        "client_id": uuid.uuid4().hex,
        "prompt_id": str(uuid.uuid4()),
    }
    return Task.objects.create(**{**defaults, **fields})


def test_every_field_a_run_reads_is_as_the_orm_reads_it() -> None:
    node = Node.objects.create(url="http://127.0.0.1:9001", token="s3cret", status="busy", held=1)
    task = a_task(
        status=Task.Status.RUNNING,
        node=node,
        files=[{"url": "https://example.com/a.png", "folder": "input", "name": "a.png"}],
        main_model="sd15.safetensors",
        loras=["a.safetensors", "b.safetensors"],
        seed="42",
        output_node="9",
        attempts=2,
        prompt_started=True,
        webhook_url="https://example.com/hook",
        base_url="https://router.example.com",
        comfy_client_id="client-1",
        extra_data={"extra_pnginfo": {"workflow": {"nodes": []}}},
        lease_owner="owner-1",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
        started_at=timezone.now(),
    )
    expected = Task.objects.select_related("node").get(pk=task.pk)
    read = tasks_to_run([task.pk])[task.pk]
    for name in RUN_FIELDS:
        if "__" in name:
            related, field = name.split("__")
            assert getattr(getattr(read, related), field) == getattr(
                getattr(expected, related), field
            ), name
        elif name in ("node", "submitted_by"):
            assert getattr(read, f"{name}_id") == getattr(expected, f"{name}_id"), name
        else:
            assert getattr(read, name) == getattr(expected, name), name
            assert type(getattr(read, name)) is type(getattr(expected, name)), name
    assert (read.node.pk, read.node.url, read.node.token) == (node.pk, node.url, "s3cret")


def test_tasks_not_running_or_without_a_node_are_left_out() -> None:
    node = Node.objects.create(url="http://127.0.0.1:9001", status="busy", held=2)
    running = [a_task(status=Task.Status.RUNNING, node=node) for _ in range(2)]
    pending = a_task()
    done = a_task(status=Task.Status.DONE, node=node)
    nodeless = a_task(status=Task.Status.RUNNING)
    ids = [t.pk for t in (*running, pending, done, nodeless)] + [uuid.uuid4()]
    assert set(tasks_to_run(ids)) == {t.pk for t in running}
    assert task_to_run(pending.pk) is None
    assert tasks_to_run([]) == {}
