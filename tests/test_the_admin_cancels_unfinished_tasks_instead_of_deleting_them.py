"""Deleting tasks in the admin deletes the finished ones; an unfinished one is cancelled instead,
so its node is never left held by a task that no longer exists."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from nodes.models import Node
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:workflows_task_changelist")


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def a_task(status: str, node: Node | None = None) -> Task:
    return Task.objects.create(
        type=Task.Type.COMFYUI,
        params={},
        graph={},
        status=status,
        node=node,
        prompt_id=str(uuid.uuid4()),
        lease_owner="a-run" if status == Task.Status.RUNNING else "",
    )


def test_bulk_delete_cancels_unfinished_tasks_and_deletes_finished_ones(
    admin_client: Client,
) -> None:
    node = Node.objects.create(url="http://127.0.0.1:9", status=Node.Status.BUSY, held=1)
    running = a_task(Task.Status.RUNNING, node)
    pending = a_task(Task.Status.PENDING)
    done = a_task(Task.Status.DONE)
    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [running.pk, pending.pk, done.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert not Task.objects.filter(pk=done.pk).exists()
    assert Task.objects.get(pk=pending.pk).status == Task.Status.CANCELLED
    running.refresh_from_db()
    assert running.status == Task.Status.RUNNING and running.cancel_requested  # its run interrupts it


def test_an_unfinished_task_has_no_delete_page(admin_client: Client) -> None:
    pending = a_task(Task.Status.PENDING)
    response = admin_client.get(reverse("admin:workflows_task_delete", args=[pending.pk]))
    assert response.status_code == 403
    assert Task.objects.filter(pk=pending.pk).exists()


def test_the_cancel_action_cancels_a_waiting_task(admin_client: Client) -> None:
    pending = a_task(Task.Status.PENDING)
    response = admin_client.post(
        CHANGELIST, {"action": "cancel_tasks", "_selected_action": [pending.pk]}, follow=True
    )
    assert response.status_code == 200
    assert Task.objects.get(pk=pending.pk).status == Task.Status.CANCELLED
