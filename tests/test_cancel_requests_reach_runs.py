"""A process's runs learn of cancel requests from one look at the database per interval, shared
by all of them: the run whose task was asked to cancel is told, the others are not."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from workflows.execution.cancel_requests import CancelRequests
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def running_task() -> Task:
    return Task.objects.create(
        type="ComfyUI",
        params={"prompt": {}},
        graph={"1": {"class_type": "EmptyImage", "inputs": {}}},
        client_id=uuid.uuid4().hex,
        prompt_id=str(uuid.uuid4()),
        status=Task.Status.RUNNING,
    )


async def test_only_the_run_whose_task_was_asked_to_cancel_is_told() -> None:
    tasks = [await database_sync_to_async(running_task)() for _ in range(3)]
    watcher = CancelRequests(interval=0.05)
    events = [watcher.watch(task.pk) for task in tasks]
    await asyncio.sleep(0.2)
    assert not any(event.is_set() for event in events)

    await Task.objects.filter(pk=tasks[1].pk).aupdate(cancel_requested=True)
    await asyncio.wait_for(events[1].wait(), timeout=5)
    assert not events[0].is_set() and not events[2].is_set()
    for task in tasks:
        watcher.forget(task.pk)
