"""The admin's task list shows each task's prompt (or its graph's size), its model and the first
line of its error."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from workflows.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def a_task(**fields: object) -> Task:
    return Task.objects.create(prompt_id=str(uuid.uuid4()), **fields)


def test_the_list_shows_prompt_model_and_the_errors_first_line(admin_client: Client) -> None:
    a_task(
        type=Task.Type.SDXL,
        params={"prompt": "a <b>red</b> fox in the snow"},
        graph={},
        main_model="https://models.example.com/files/juggernaut-xl.safetensors",
        status=Task.Status.ERROR,
        error={"message": "Out of memory on the GPU\nTraceback (most recent call last): ..."},
    )
    a_task(
        type=Task.Type.COMFYUI,
        params={"prompt": {"1": {}, "2": {}, "3": {}}},
        graph={"1": {}, "2": {}, "3": {}},
        status=Task.Status.DONE,
    )
    page = admin_client.get(reverse("admin:workflows_task_changelist")).content.decode()
    assert "a &lt;b&gt;red&lt;/b&gt; fox in the snow" in page
    assert "juggernaut-xl.safetensors" in page
    assert "Out of memory on the GPU" in page and "Traceback" not in page
    assert "graph of 3 nodes" in page


def test_a_long_prompt_is_shortened(admin_client: Client) -> None:
    a_task(type=Task.Type.SD15, params={"prompt": "fox " * 100}, graph={})
    page = admin_client.get(reverse("admin:workflows_task_changelist")).content.decode()
    assert ("fox " * 19).strip() in page and "fox " * 30 not in page
