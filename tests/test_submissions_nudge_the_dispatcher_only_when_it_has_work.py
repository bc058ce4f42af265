"""A submission nudges the dispatcher only when a pass has something to do for it: a node to give
it (idle, or busy with room in its queue: NODE__QUEUE_AHEAD), or files to fetch. While every node
is full, the end of a run, which lets a node go, fills it: a node left idle is given the waiting
task by the ending itself, which makes the pass the dispatcher would (only if that fails is the
dispatcher nudged); a node that still holds its next prompt is left to the dispatcher's next pass
with a refill nudge, which the dispatcher gathers with others (`comfy_router.wakeups`)."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError
from django.test import Client

from nodes.models import Node
from tests.support.cluster import comfyui_body, tiny_graph
from workflows.execution import start
from workflows.execution.run import Outcome
from workflows.models import Task
from workflows.scheduling.assignment import assign_nodes
from workflows.tasks import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def nudges(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(services, "dispatch_wakeup_sync", lambda **kw: sent.append(kw))

    async def recorded(**kw: Any) -> None:
        sent.append(kw)

    monkeypatch.setattr(start, "dispatch_wakeup", recorded)
    return sent


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Task, str]]:
    """The runs a run's ending starts, recorded rather than run (there is no node to run on)."""
    runs: list[tuple[Task, str]] = []

    async def recorded(task: Task, owner: str, *, fresh: bool, ahead: bool = False) -> None:
        runs.append((task, owner))

    monkeypatch.setattr(start, "start_run", recorded)
    return runs


def submit(body: dict[str, Any]) -> str:
    client = Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())
    response = client.post("/workflow", body, content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def a_node(port: int, **fields: Any) -> Node:
    defaults: dict[str, Any] = {"status": Node.Status.IDLE, "enabled": True}
    return Node.objects.create(url=f"http://127.0.0.1:{port}", **{**defaults, **fields})


def test_a_submission_while_every_node_is_full_makes_no_nudge(nudges: list[Any]) -> None:
    a_node(9001, status=Node.Status.BUSY, held=2)  # running one, one queued ahead: full
    a_node(9002, status=Node.Status.IDLE, held=1)  # claimed: another task holds it
    a_node(9003, status=Node.Status.IDLE, enabled=False)
    a_node(9004, status=Node.Status.OFFLINE)
    submit(comfyui_body(tiny_graph(1)))
    assert nudges == []


def test_a_submission_with_an_idle_node_nudges_the_dispatcher(nudges: list[Any]) -> None:
    a_node(9001, status=Node.Status.BUSY, held=2)
    a_node(9002)
    submit(comfyui_body(tiny_graph(1)))
    assert nudges == [{}]


def test_a_submission_with_room_in_a_busy_nodes_queue_nudges_the_dispatcher(
    nudges: list[Any],
) -> None:
    a_node(9001, status=Node.Status.BUSY, held=1)
    submit(comfyui_body(tiny_graph(1)))
    assert nudges == [{}]


def test_without_queue_ahead_a_busy_node_has_no_room(nudges: list[Any], settings: Any) -> None:
    settings.ROUTER = dataclasses.replace(settings.ROUTER, queue_ahead=0)
    a_node(9001, status=Node.Status.BUSY, held=1)
    submit(comfyui_body(tiny_graph(1)))
    assert nudges == []


def test_a_submission_with_files_to_fetch_nudges_for_downloads_even_with_no_idle_node(
    nudges: list[Any],
) -> None:
    a_node(9001, status=Node.Status.BUSY, held=1)
    checkpoint = {"type": "custom", "name": "https://example.com/models/tiny.safetensors"}
    submit({"type": "SD15", "params": {"checkpoint": checkpoint, "prompt": "a cat"}})
    assert nudges == [{"downloads": True}]


def test_a_submission_whose_idle_check_fails_is_stored_and_nudges_anyway(
    nudges: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> bool:
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "node_can_take_a_task", broken)
    task_id = submit(comfyui_body(tiny_graph(1)))
    assert Task.objects.filter(pk=task_id, status=Task.Status.PENDING).exists()
    assert nudges == [{}]


def one_task_for_the_node_and_one_waiting(
    settings: Any, nudges: list[Any]
) -> tuple[Node, uuid.UUID]:
    """A node without queue-ahead, one task for it and one that waits (returned), the
    submissions' nudges forgotten."""
    settings.ROUTER = dataclasses.replace(settings.ROUTER, queue_ahead=0)
    node = a_node(9001)
    submit(comfyui_body(tiny_graph(1)))
    waiting = uuid.UUID(submit(comfyui_body(tiny_graph(2))))
    nudges.clear()
    return node, waiting


def run_and_end_first_task(node: Node) -> None:
    """Gives the node its tasks (the first, and one queued ahead if another waits) and ends the
    first one's run."""
    task, owner, ahead = assign_nodes(keep_clients={}).started[0]
    assert not ahead
    assert task.node_id == node.pk
    async_to_sync(start.end_run)(task, owner, Outcome(Task.Status.DONE, outputs=[], ran_on=node.pk))
    assert Task.objects.get(pk=task.pk).status == Task.Status.DONE


def test_a_run_that_ends_with_no_task_for_its_node_leaves_it_idle_without_a_pass(
    nudges: list[Any], started: list[tuple[Task, str]]
) -> None:
    node = a_node(9001)
    submit(comfyui_body(tiny_graph(1)))
    nudges.clear()
    run_and_end_first_task(node)
    assert (nudges, started) == ([], [])
    assert Node.objects.get(pk=node.pk).status == Node.Status.IDLE


def test_a_run_whose_ending_could_not_assign_nodes_leaves_its_node_to_the_dispatcher(
    nudges: list[Any],
    started: list[tuple[Task, str]],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    node, waiting = one_task_for_the_node_and_one_waiting(settings, nudges)

    def fails(websockets: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(start, "assign_offering", fails)
    run_and_end_first_task(node)
    assert (nudges, started) == ([{}], [])
    assert Task.objects.get(pk=waiting).status == Task.Status.PENDING
    assert Node.objects.get(pk=node.pk).status == Node.Status.IDLE


def test_a_run_whose_node_still_holds_its_next_prompt_leaves_the_refill_to_the_dispatcher(
    nudges: list[Any], started: list[tuple[Task, str]]
) -> None:
    node = a_node(9001)
    submit(comfyui_body(tiny_graph(1)))
    queued_ahead = uuid.UUID(submit(comfyui_body(tiny_graph(2))))
    waiting = uuid.UUID(submit(comfyui_body(tiny_graph(3))))
    nudges.clear()
    run_and_end_first_task(node)
    assert (nudges, started) == ([{"refill": True}], [])
    assert Task.objects.get(pk=queued_ahead).node_id == node.pk
    [(task, _, ahead)] = assign_nodes(keep_clients={}).started  # the dispatcher's pass
    assert (task.pk, task.node_id, ahead) == (waiting, node.pk, True)


def test_a_run_that_leaves_its_node_idle_gives_it_the_waiting_task_itself(
    nudges: list[Any], started: list[tuple[Task, str]], settings: Any
) -> None:
    node, waiting = one_task_for_the_node_and_one_waiting(settings, nudges)
    run_and_end_first_task(node)
    [(task, _)] = started
    assert (task.pk, task.node_id) == (waiting, node.pk)
    assert nudges == []


@pytest.fixture
def pool_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The assignments the ending itself makes (each reads the pool first), recorded."""
    made: list[str] = []
    assign = start.assign_offering

    def recorded(websockets: Any) -> Any:
        made.append("assign")
        return assign(websockets)

    monkeypatch.setattr(start, "assign_offering", recorded)
    return made


def test_the_last_task_to_end_makes_no_assignment_when_nothing_else_is_unfinished(
    nudges: list[Any], started: list[tuple[Task, str]], pool_reads: list[str]
) -> None:
    node = a_node(9001)
    submit(comfyui_body(tiny_graph(1)))
    nudges.clear()
    run_and_end_first_task(node)
    assert (pool_reads, nudges, started) == ([], [], [])
    assert Node.objects.get(pk=node.pk).status == Node.Status.IDLE


def test_an_ending_with_a_task_queued_ahead_elsewhere_still_assigns_its_node(
    nudges: list[Any], started: list[tuple[Task, str]], pool_reads: list[str]
) -> None:
    node = a_node(9001)
    submit(comfyui_body(tiny_graph(1)))
    other = a_node(9002, status=Node.Status.BUSY, held=2)
    queued = Task.objects.create(
        type="ComfyUI",
        params={},
        graph=tiny_graph(2),
        client_id=uuid.uuid4().hex,
        prompt_id=str(uuid.uuid4()),
        status=Task.Status.RUNNING,
        node=other,
    )
    nudges.clear()
    run_and_end_first_task(node)
    assert pool_reads == ["assign"]  # the task queued on the other node may be taken back
    assert Task.objects.filter(pk=queued.pk, status=Task.Status.RUNNING).exists()
