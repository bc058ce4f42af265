"""A node held (busy, or claimed) by no unfinished task is let go by the dispatcher's sweep:
its task was deleted, or ended without letting it go. A node whose task runs is left alone."""

from __future__ import annotations

import uuid

import pytest

from nodes.models import Node
from workflows.dispatch.loop import plan_pass
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def a_held_node(port: int, status: str = Node.Status.BUSY) -> Node:
    return Node.objects.create(url=f"http://127.0.0.1:{port}", status=status, held=1)


def test_a_busy_node_whose_task_was_deleted_is_idle_after_a_sweep() -> None:
    node = a_held_node(9001)
    task = Task.objects.create(
        type=Task.Type.COMFYUI, params={}, graph={}, status=Task.Status.RUNNING, node=node,
        prompt_id=str(uuid.uuid4()), lease_owner="a-run",
    )
    task.delete()
    plan_pass(sweep=True, downloads=False)
    node.refresh_from_db()
    assert (node.status, node.held) == (Node.Status.IDLE, 0)


def test_an_offline_node_still_claimed_by_no_task_loses_the_claim_and_stays_offline() -> None:
    node = a_held_node(9002, status=Node.Status.OFFLINE)
    plan_pass(sweep=True, downloads=False)
    node.refresh_from_db()
    assert (node.status, node.held) == (Node.Status.OFFLINE, 0)


def test_a_node_whose_task_runs_stays_busy() -> None:
    node = a_held_node(9003)
    Task.objects.create(
        type=Task.Type.COMFYUI, params={}, graph={}, status=Task.Status.RUNNING, node=node,
        prompt_id=str(uuid.uuid4()), lease_owner="a-run", lease_expires_at=None,
    )
    plan_pass(sweep=False, downloads=False)
    plan_pass(sweep=True, downloads=False)
    node.refresh_from_db()
    assert (node.status, node.held) == (Node.Status.BUSY, 1)
