"""A process's runs learn of cancel and steal requests from one look at the database per
interval, shared by all of them: the run whose task was asked is told, the others are not."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from workflows.execution.run_requests import RunRequests
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
    watcher = RunRequests(interval=0.05)
    events = [watcher.watch(task.pk).cancel for task in tasks]
    await asyncio.sleep(0.2)
    assert not any(event.is_set() for event in events)

    await Task.objects.filter(pk=tasks[1].pk).aupdate(cancel_requested=True)
    await asyncio.wait_for(events[1].wait(), timeout=5)
    assert not events[0].is_set() and not events[2].is_set()
    for task in tasks:
        watcher.forget(task.pk)


async def test_only_the_run_whose_task_was_asked_to_move_is_told_and_not_to_cancel() -> None:
    tasks = [await database_sync_to_async(running_task)() for _ in range(2)]
    watcher = RunRequests(interval=0.05)
    requests = [watcher.watch(task.pk) for task in tasks]

    await Task.objects.filter(pk=tasks[0].pk).aupdate(steal_requested=True)
    await asyncio.wait_for(requests[0].steal.wait(), timeout=5)
    assert not requests[0].cancel.is_set()
    assert not requests[1].steal.is_set() and not requests[1].changed.is_set()
    for task in tasks:
        watcher.forget(task.pk)


async def test_a_request_told_in_process_reaches_the_run_before_any_look() -> None:
    [task] = [await database_sync_to_async(running_task)()]
    watcher = RunRequests(interval=3600)
    requests = watcher.watch(task.pk)
    watcher.tell(task.pk, steal=True)
    assert requests.steal.is_set() and requests.changed.is_set()
    watcher.forget(task.pk)
