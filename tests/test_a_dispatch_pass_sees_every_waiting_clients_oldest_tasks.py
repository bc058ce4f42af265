"""A dispatch pass (workflows.scheduling.assignment.choose_assignments) reads each waiting
client's oldest ready tasks, however many another client has waiting before them, gives the next
node to the client holding the fewest, and reads a task past the starvation bound first."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Client
from clients.services import client_create
from nodes.models import Node
from workflows.models import Task
from workflows.scheduling import ready as ready_read
from workflows.scheduling.assignment import choose_assignments
from workflows.scheduling.fair_share import PROMOTE_AFTER


@pytest.fixture(autouse=True)
def no_shared_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a process that has seen one client waiting: the cheap read first."""
    monkeypatch.setattr(ready_read.hint, "shared", False)


def ready(client: Client | None, count: int) -> list[Task]:
    return [
        Task.objects.create(
            type="ComfyUI",
            params={},
            graph={},
            files_ready=True,
            prompt_id=str(uuid.uuid4()),
            submitted_by=client,
        )
        for _ in range(count)
    ]


@pytest.mark.django_db
def test_a_client_behind_another_ones_200_tasks_gets_the_node_that_comes_free() -> None:
    a, b = client_create(name="a"), client_create(name="b")
    busy = Node.objects.create(url="http://busy:1", status=Node.Status.BUSY, held=2)
    idle = Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    Task.objects.create(
        type="ComfyUI", params={}, graph={}, status=Task.Status.RUNNING, node=busy, submitted_by=a
    )
    a_tasks, b_tasks = ready(a, 200), ready(b, 3)
    choice = choose_assignments()
    given = [(pair.task.pk, pair.node.pk, ahead) for pair, ahead in choice.assignments]
    # b holds no node and a holds one: b's oldest first; then, queued ahead on the same node,
    # a's oldest, whose turn comes before b's second.
    assert given == [(b_tasks[0].pk, idle.pk, False), (a_tasks[0].pk, idle.pk, True)]


@pytest.mark.django_db
def test_the_operators_tasks_take_turns_like_a_clients_of_priority_0() -> None:
    client = client_create(name="team")
    Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    Node.objects.create(url="http://idle:2", status=Node.Status.IDLE)
    operator, theirs = ready(None, 50), ready(client, 2)
    first = [pair.task.pk for pair, ahead in choose_assignments().assignments if not ahead]
    assert first == [operator[0].pk, theirs[0].pk]


@pytest.mark.django_db
def test_a_higher_priority_clients_tasks_are_read_first_behind_any_number_of_others() -> None:
    low, high = client_create(name="low"), client_create(name="high", priority=3)
    Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    ready(low, 100)
    urgent = ready(high, 2)
    first = [pair.task.pk for pair, ahead in choose_assignments().assignments]
    assert first == [urgent[0].pk, urgent[1].pk]


@pytest.mark.django_db
def test_with_one_client_waiting_a_pass_reads_the_ready_tasks_once_as_before() -> None:
    """The fair read, and who holds which nodes, are read only while two or more clients wait."""
    Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    operator = ready(None, 2)
    choose_assignments()  # the first pass also reads what the node can run
    with CaptureQueriesContext(connection) as alone:
        choose_assignments()
    ready(client_create(name="other"), 1)
    choose_assignments()  # finds two clients: the next passes go to the fair read at once
    with CaptureQueriesContext(connection) as shared:
        choice = choose_assignments()
    assert len(shared.captured_queries) == len(alone.captured_queries) + 1
    assert [pair.task.pk for pair, ahead in choice.assignments][:1] == [operator[0].pk]


@pytest.mark.django_db
def test_a_task_past_the_starvation_bound_is_read_and_goes_first_behind_any_priority() -> None:
    low, high = client_create(name="low"), client_create(name="high", priority=3)
    Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    [starving] = ready(low, 1)
    long_ago = timezone.now() - timedelta(seconds=PROMOTE_AFTER + 1)
    Task.objects.filter(pk=starving.pk).update(created_at=long_ago)
    ready(high, 100)
    first = [pair.task.pk for pair, ahead in choose_assignments().assignments if not ahead]
    assert first == [starving.pk]
