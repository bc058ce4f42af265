"""A task's admin page shows its params, graph and error as pretty-printed, escaped JSON."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from workflows.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def test_params_graph_and_error_are_indented_json_with_markup_escaped(admin_client: Client) -> None:
    params = {"prompt": "<script>alert(1)</script>", "steps": 20}
    graph = {"1": {"class_type": "KSampler", "inputs": {"steps": 20}}}
    error = {"message": "Node 1 failed", "node_id": "1", "node_type": "KSampler"}
    task = Task.objects.create(
        type=Task.Type.SD15, params=params, graph=graph, status=Task.Status.ERROR, error=error,
        prompt_id=str(uuid.uuid4()),
    )
    page = admin_client.get(reverse("admin:workflows_task_change", args=[task.pk])).content.decode()
    for value in (params, graph, error):
        assert escape(json.dumps(value, indent=2)) in page
    assert "<script>alert(1)</script>" not in page
    assert page.count('<pre class="task-json"') == 3
