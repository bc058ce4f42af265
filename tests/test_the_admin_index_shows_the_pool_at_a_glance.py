"""The admin index shows the pool at a glance: nodes by status, waiting tasks, tasks done and
failed in the last hour, and the cache's use against its limit."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from downloads.models import CacheEntry
from nodes.models import Node
from tests.support.cache_settings import configure
from workflows.models import Task

pytestmark = pytest.mark.django_db
GIB = 1024**3


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def a_task(status: str, finished_ago: timedelta | None = None) -> Task:
    finished_at = None if finished_ago is None else timezone.now() - finished_ago
    return Task.objects.create(
        type=Task.Type.SD15, params={}, graph={}, status=status, finished_at=finished_at,
        prompt_id=str(uuid.uuid4()),
    )


def test_the_index_counts_nodes_tasks_and_cache_use(admin_client: Client, settings: object) -> None:
    configure(settings, max_cache_bytes=4 * GIB)
    for port, status in ((1, Node.Status.IDLE), (2, Node.Status.IDLE), (3, Node.Status.OFFLINE)):
        Node.objects.create(url=f"http://127.0.0.1:{port}", status=status)
    a_task(Task.Status.PENDING)
    a_task(Task.Status.DOWNLOADING)
    a_task(Task.Status.DONE, timedelta(minutes=5))
    a_task(Task.Status.DONE, timedelta(hours=2))
    a_task(Task.Status.ERROR, timedelta(minutes=59))
    CacheEntry.objects.create(
        file_name="m.safetensors", key="https://example.com/m.safetensors",
        status=CacheEntry.Status.READY, size=GIB,
    )
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "The pool at a glance" in page
    assert "2 idle, 0 busy, 1 offline" in page
    assert "2 (0 running)" in page
    assert "1 done, 1 failed" in page
    assert "1.0\xa0GB of 4.0\xa0GB (25.0%)" in page
    assert reverse("admin:nodes_node_changelist") in page  # the app list is still there
