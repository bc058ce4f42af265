"""An execute message hands the dispatcher's lease over once: a second copy of it (channels-redis
can deliver one twice) finds the lease taken and starts nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from nodes.models import Node
from workflows.execution.start import take_over
from workflows.models import Task

pytestmark = pytest.mark.django_db


def running_task(lease_owner: str) -> Task:
    node = Node.objects.create(url="http://127.0.0.1:9", status=Node.Status.BUSY, held=1)
    return Task.objects.create(
        type=Task.Type.COMFYUI,
        params={},
        graph={"1": {"class_type": "EmptyImage", "inputs": {}}},
        status=Task.Status.RUNNING,
        node=node,
        prompt_id=str(uuid.uuid4()),
        client_id=uuid.uuid4().hex,
        lease_owner=lease_owner,
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )


def test_the_second_copy_of_an_execute_message_finds_the_lease_taken() -> None:
    task = running_task("dispatcher-run")
    first = take_over(task_id=task.pk, from_owner="dispatcher-run")
    assert first is not None
    started, owner = first
    assert started.pk == task.pk and owner != "dispatcher-run"
    assert take_over(task_id=task.pk, from_owner="dispatcher-run") is None


def test_a_message_from_an_owner_that_no_longer_holds_the_task_starts_nothing() -> None:
    task = running_task("the-run-that-took-it-over")
    assert take_over(task_id=task.pk, from_owner="dispatcher-run") is None
