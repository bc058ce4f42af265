"""A process's runs learn of cancel requests from one look at the database per interval, shared
by all of them: the run whose task was asked to cancel is told, the others are not."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from workflows.execution import cancel_requests
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


async def test_one_look_serves_every_run_and_none_is_made_without_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looks = 0
    look = cancel_requests._CANCEL_REQUESTED

    def counted() -> list[tuple[uuid.UUID]]:
        nonlocal looks
        looks += 1
        return look()

    monkeypatch.setattr(cancel_requests, "_CANCEL_REQUESTED", counted)
    tasks = [await database_sync_to_async(running_task)() for _ in range(5)]
    watcher = CancelRequests(interval=0.1)
    for task in tasks:
        watcher.watch(task.pk)
    await asyncio.sleep(1.0)
    assert 1 <= looks <= 11  # at most one per interval, not one per run and interval

    for task in tasks:
        watcher.forget(task.pk)
    await asyncio.sleep(0.3)  # the poller notices there is nothing left to watch
    before = looks
    await asyncio.sleep(0.5)
    assert looks == before
