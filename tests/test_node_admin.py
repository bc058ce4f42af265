"""The node admin, driven through Django's test client (the browser test covers the real page)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from nodes.models import Node
from nodes.selectors import task_model
from tests.fake_comfyui import FakeComfyUIThread
from tests.support.live_router import free_port

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:nodes_node_changelist")
ADD = reverse("admin:nodes_node_add")


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


@pytest.fixture
def fake() -> Iterator[FakeComfyUIThread]:
    with FakeComfyUIThread() as server:
        yield server


def add_node(client: Client, url: str, **fields: str) -> str:
    form = {"url": url, "name": "", "token": "", "enabled": "on", **fields}
    response = client.post(ADD, form, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_adding_a_url_that_does_not_answer_saves_it_offline_and_says_so(
    admin_client: Client,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    page = add_node(admin_client, url + "/")
    node = Node.objects.get()
    assert (node.url, node.status) == (url, "offline")
    assert f"Node {url} does not answer" in page and "saved as offline" in page
    assert 'class="node-status node-status-offline"' in page


def test_adding_a_node_that_answers_makes_it_idle_without_a_warning(
    admin_client: Client, fake: FakeComfyUIThread
) -> None:
    page = add_node(admin_client, fake.url, name="gpu-1")
    node = Node.objects.get()
    assert (node.name, node.status, node.device_name) == ("gpu-1", "idle", "cpu")
    assert "does not answer" not in page
    assert "node-status-idle" in page and "21.3 / 23.5 GiB" in page


def test_a_bad_url_is_refused_by_the_form(admin_client: Client) -> None:
    response = admin_client.post(ADD, {"url": "ftp://gpu-1", "enabled": "on"})
    assert response.status_code == 200
    assert "use http or https" in response.content.decode()
    assert not Node.objects.exists()


def test_the_same_node_cannot_be_added_twice_under_another_spelling(admin_client: Client) -> None:
    Node.objects.create(url="http://gpu-1:8188")
    response = admin_client.post(ADD, {"url": "HTTP://GPU-1:8188/", "enabled": "on"})
    assert "already exists" in response.content.decode()
    assert Node.objects.count() == 1


def test_editing_a_node_never_overwrites_the_status_the_monitor_or_dispatcher_set(
    admin_client: Client,
) -> None:
    node = Node.objects.create(url="http://gpu-1:8188", status=Node.Status.IDLE)
    change = reverse("admin:nodes_node_change", args=[node.pk])
    assert admin_client.get(change).status_code == 200
    Node.objects.filter(pk=node.pk).update(status=Node.Status.BUSY, held=1)
    form = {"url": node.url, "name": "renamed", "token": "", "enabled": "on"}
    response = admin_client.post(change, form)
    assert response.status_code == 302
    node.refresh_from_db()
    assert (node.name, node.status, node.held) == ("renamed", "busy", 1)


def test_the_list_searches_and_filters_by_status_and_enabled(admin_client: Client) -> None:
    Node.objects.create(url="http://alpha:8188", name="first", status=Node.Status.IDLE)
    Node.objects.create(url="http://beta:8188", status=Node.Status.OFFLINE, enabled=False)
    search = admin_client.get(CHANGELIST, {"q": "first"}).content.decode()
    assert "http://alpha:8188" in search and "http://beta:8188" not in search
    offline = admin_client.get(CHANGELIST, {"status__exact": "offline"}).content.decode()
    assert "http://beta:8188" in offline and "http://alpha:8188" not in offline
    enabled = admin_client.get(CHANGELIST, {"enabled__exact": "1"}).content.decode()
    assert "http://alpha:8188" in enabled and "http://beta:8188" not in enabled


def test_bulk_actions_enable_disable_and_check_now(
    admin_client: Client, fake: FakeComfyUIThread
) -> None:
    live = Node.objects.create(url=fake.url)
    dead = Node.objects.create(url=f"http://127.0.0.1:{free_port()}", status=Node.Status.IDLE)
    selected = [str(live.pk), str(dead.pk)]

    def act(action: str) -> str:
        response = admin_client.post(
            CHANGELIST, {"action": action, "_selected_action": selected}, follow=True
        )
        return response.content.decode()

    assert "Disabled 2 node(s)" in act("disable_nodes")
    assert not Node.objects.filter(enabled=True).exists()
    assert "Enabled 2 node(s)" in act("enable_nodes")
    page = act("check_nodes_now")
    assert "1 of 2 node(s) answered" in page and f"Node {dead.url} does not answer" in page
    live.refresh_from_db()
    dead.refresh_from_db()
    assert (live.status, dead.status, dead.health_failures) == ("idle", "idle", 1)


@pytest.mark.skipif(task_model() is None, reason="the workflows.Task model is not there yet")
def test_the_current_task_is_shown_and_linked_to_its_admin_page(admin_client: Client) -> None:
    node = Node.objects.create(url="http://gpu-1:8188", status=Node.Status.BUSY)
    task = task_model()._default_manager.create(  # type: ignore[union-attr]
        type="ComfyUI", params={}, graph={}, status="running", node=node
    )
    page = admin_client.get(CHANGELIST).content.decode()
    try:
        link = reverse("admin:workflows_task_change", args=[task.pk])
    except NoReverseMatch:  # the task admin is not registered yet: the id alone
        assert f'<td class="field-current_task">{task.pk}</td>' in page
    else:
        assert f'<a href="{link}">{task.pk}</a>' in page
