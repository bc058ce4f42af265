"""In the admin a finished task has Retry (a list action and a button on its page), which submits
a copy through `task_submit` and says which task it made; an unfinished one has Cancel."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.cache_settings import configure
from workflows.models import Task

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:workflows_task_changelist")
MODEL_URL = "https://example.com/m.safetensors"
GRAPH = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64}}}


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def a_task(status: str) -> Task:
    return Task.objects.create(
        type=Task.Type.SD15,
        params={"prompt": "a red fox", "seed": 7},
        graph=GRAPH,
        sampler_node="3",
        output_node="9",
        files=[{"url": MODEL_URL, "folder": "checkpoints", "name": "m.safetensors"}],
        main_model=MODEL_URL,
        loras=[],
        requirements={"classes": ["EmptyImage"], "models": [], "labels": ["gpu"]},
        seed="7",
        status=status,
        webhook_url="https://hooks.example.com/done",
        prompt_id=str(uuid.uuid4()),
        error={"message": "boom"} if status == Task.Status.ERROR else None,
    )


def page_of(client: Client, task: Task) -> str:
    return client.get(reverse("admin:workflows_task_change", args=[task.pk])).content.decode()


def the_copy_of(task: Task) -> Task:
    return Task.objects.exclude(pk=task.pk).get()


def test_the_retry_action_submits_a_copy_and_names_the_new_task(admin_client: Client) -> None:
    failed = a_task(Task.Status.ERROR)
    response = admin_client.post(
        CHANGELIST, {"action": "retry_tasks", "_selected_action": [failed.pk]}, follow=True
    )
    assert response.status_code == 200
    copy = the_copy_of(failed)
    assert copy.status == Task.Status.PENDING and copy.error is None
    assert (copy.type, copy.params, copy.graph) == (failed.type, failed.params, failed.graph)
    assert copy.webhook_url == failed.webhook_url and copy.seed == "7"
    assert copy.files == failed.files and not copy.files_ready
    assert copy.requirements == failed.requirements and copy.main_model == failed.main_model
    assert copy.prompt_id != failed.prompt_id
    page = response.content.decode()
    assert "retried as new task" in page
    assert reverse("admin:workflows_task_change", args=[copy.pk]) in page


def test_the_retry_button_submits_a_copy_and_opens_it(admin_client: Client) -> None:
    done = a_task(Task.Status.DONE)
    page = page_of(admin_client, done)
    retry = reverse("admin:workflows_task_retry", args=[done.pk])
    assert retry in page and "Cancel task" not in page
    response = admin_client.post(retry)
    copy = the_copy_of(done)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:workflows_task_change", args=[copy.pk])


def test_an_unfinished_task_is_not_retried(admin_client: Client) -> None:
    pending = a_task(Task.Status.PENDING)
    response = admin_client.post(
        CHANGELIST, {"action": "retry_tasks", "_selected_action": [pending.pk]}, follow=True
    )
    assert "1 unfinished task(s) not retried" in response.content.decode()
    assert Task.objects.count() == 1
    retry = reverse("admin:workflows_task_retry", args=[pending.pk])
    assert admin_client.post(retry).status_code == 404


def test_an_unfinished_tasks_page_has_a_cancel_button_that_cancels_it(admin_client: Client) -> None:
    pending = a_task(Task.Status.PENDING)
    page = page_of(admin_client, pending)
    cancel = reverse("admin:workflows_task_cancel", args=[pending.pk])
    assert cancel in page and "Retry" not in page
    assert reverse("admin:workflows_task_delete", args=[pending.pk]) not in page
    assert admin_client.get(cancel).status_code == 405
    response = admin_client.post(cancel, follow=True)
    assert response.status_code == 200
    assert Task.objects.get(pk=pending.pk).status == Task.Status.CANCELLED
    assert "cancelled" in response.content.decode()


def test_a_retry_refused_by_a_full_queue_says_so_and_makes_nothing(
    admin_client: Client, settings: object
) -> None:
    configure(settings, pending_limit=1)
    a_task(Task.Status.PENDING)
    done = a_task(Task.Status.DONE)
    response = admin_client.post(reverse("admin:workflows_task_retry", args=[done.pk]), follow=True)
    assert f"Task {done.id} not retried: 1 tasks are already waiting" in response.content.decode()
    assert Task.objects.count() == 2
