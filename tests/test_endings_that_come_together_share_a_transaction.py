"""Runs that end while the database thread is busy are ended together: one trip, one transaction,
one assignment pass for the nodes they let go, each node's next task going back to the run that
let it go. One ending that fails does not take the others with it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from nodes.models import Node
from workflows import endings, services
from workflows.assignment import assign_nodes
from workflows.endings import finalize
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

NODES = 3


def three_running_tasks_and_three_waiting() -> list[tuple[Task, str]]:
    for port in range(NODES):
        Node.objects.create(url=f"http://127.0.0.1:{9100 + port}", status=Node.Status.IDLE)
    for index in range(2 * NODES):
        Task.objects.create(
            type=Task.Type.COMFYUI,
            params={"prompt": {}},
            graph={"1": {"class_type": "EmptyImage", "inputs": {"color": index}}},
            client_id=uuid.uuid4().hex,
            prompt_id=str(uuid.uuid4()),
            files_ready=True,
        )
    return assign_nodes()


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each trip the endings made to the database."""
    sizes: list[int] = []
    tasks_end = endings.tasks_end

    def counted(requests: list[endings.EndRequest]) -> list[endings.Ending | Exception]:
        sizes.append(len(requests))
        return tasks_end(requests)

    monkeypatch.setattr(endings, "tasks_end", counted)
    return sizes


def end_done(task: Task, owner: str) -> asyncio.Future[list[tuple[Task, str]] | None]:
    return asyncio.ensure_future(
        finalize(
            task.id,
            Task.Status.DONE,
            outputs=[],
            progress=1.0,
            ran_on=task.node_id,
            task=task,
            owner=owner,
            assign_next=True,
            keep_clients={},
        )
    )


async def test_runs_ending_together_are_written_in_one_trip_and_each_gets_its_nodes_next_task(
    batches: list[int],
) -> None:
    running = await database_sync_to_async(three_running_tasks_and_three_waiting)()
    assert len(running) == NODES

    nexts = await asyncio.gather(*(end_done(task, owner) for task, owner in running))

    assert batches == [NODES]
    for (ended, _), assigned in zip(running, nexts):
        assert assigned is not None and len(assigned) == 1
        (task, owner), = assigned
        assert task.node_id == ended.node_id and owner
    statuses = {
        pk: status async for pk, status in Task.objects.values_list("pk", "status")
    }
    assert [statuses[task.id] for task, _ in running] == [Task.Status.DONE] * NODES
    assert sorted(statuses.values()) == sorted([Task.Status.DONE] * NODES + [Task.Status.RUNNING] * NODES)
    assert {status async for status in Node.objects.values_list("status", flat=True)} == {
        Node.Status.BUSY
    }


async def test_one_ending_that_fails_leaves_the_others_ended(
    batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await database_sync_to_async(three_running_tasks_and_three_waiting)()
    failing = running[1][0].id
    task_finish = services.task_finish

    def finish_or_fail(**kwargs: object) -> Task | None:
        if kwargs["task_id"] == failing:
            raise RuntimeError("the disk is full")
        return task_finish(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "task_finish", finish_or_fail)

    outcomes = await asyncio.gather(
        *(end_done(task, owner) for task, owner in running), return_exceptions=True
    )

    assert isinstance(outcomes[1], RuntimeError)
    assert batches == [NODES]  # tried together first, then each alone
    for index in (0, 2):
        task, _ = running[index]
        assert (await Task.objects.aget(pk=task.id)).status == Task.Status.DONE
        assigned = outcomes[index]
        assert isinstance(assigned, list) and [t.node_id for t, _ in assigned] == [task.node_id]
    # Nothing of the failed one was written: its task still runs, its node is still held.
    assert (await Task.objects.aget(pk=failing)).status == Task.Status.RUNNING
    assert (await Node.objects.aget(pk=running[1][0].node_id)).status == Node.Status.BUSY
