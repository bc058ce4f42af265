"""The admin does not delete a node while it runs a task (the API asks for `force`): its delete
page and a bulk delete that includes it are refused."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse

from nodes.models import Node

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:nodes_node_changelist")


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def test_the_delete_page_of_a_busy_node_is_refused(admin_client: Client) -> None:
    busy = Node.objects.create(url="http://gpu-1:8188", status=Node.Status.BUSY, held=1)
    delete = reverse("admin:nodes_node_delete", args=[busy.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Node.objects.filter(pk=busy.pk).exists()


def test_an_idle_node_is_deleted_from_its_page(admin_client: Client) -> None:
    idle = Node.objects.create(url="http://gpu-2:8188", status=Node.Status.IDLE)
    delete = reverse("admin:nodes_node_delete", args=[idle.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Node.objects.filter(pk=idle.pk).exists()


def test_a_bulk_delete_that_includes_a_node_running_a_task_deletes_nothing(
    admin_client: Client,
) -> None:
    idle = Node.objects.create(url="http://gpu-3:8188", status=Node.Status.IDLE)
    offline_mid_task = Node.objects.create(
        url="http://gpu-4:8188", status=Node.Status.OFFLINE, held=1
    )
    form = {"action": "delete_selected", "_selected_action": [idle.pk, offline_mid_task.pk]}
    confirmation = admin_client.post(CHANGELIST, form)
    assert "permission to delete" in confirmation.content.decode()
    assert admin_client.post(CHANGELIST, {**form, "post": "yes"}).status_code == 403
    assert Node.objects.count() == 2


def test_a_bulk_delete_of_nodes_without_tasks_deletes_them(admin_client: Client) -> None:
    nodes = [
        Node.objects.create(url=f"http://gpu-{n}:8188", status=status)
        for n, status in ((5, Node.Status.IDLE), (6, Node.Status.OFFLINE))
    ]
    form = {"action": "delete_selected", "_selected_action": [n.pk for n in nodes], "post": "yes"}
    assert admin_client.post(CHANGELIST, form).status_code == 302
    assert Node.objects.count() == 0
