"""Which tasks queued ahead on busy nodes are taken back for idle nodes
(`workflows.scheduling.affinity.steals`, pure), and which nodes a pass fills: idle ones first,
then busy ones with room in their queue, never full ones
(`workflows.scheduling.assignment.choose_assignments`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.utils import timezone

from nodes.models import Node
from workflows.models import Task
from workflows.scheduling.affinity import steals
from workflows.scheduling.assignment import assign_nodes, choose_assignments


@dataclass(frozen=True)
class Q:
    pk: str
    main_model: str = ""
    loras: tuple[str, ...] = ()
    warm_where_queued: bool = False
    queued_for: float = 0.0


@dataclass(frozen=True)
class N:
    pk: str
    last_model: str = ""
    last_loras: tuple[str, ...] = ()


def pairs(chosen: list) -> list[tuple[str, str]]:
    return [(c.task.pk, c.node.pk) for c in chosen]


def test_the_oldest_queued_tasks_go_one_to_each_idle_node() -> None:
    chosen = steals([Q("q1"), Q("q2"), Q("q3")], [N("n1"), N("n2")], affinity_wait=2.0)
    assert pairs(chosen) == [("q1", "n1"), ("q2", "n2")]


def test_a_queued_task_goes_only_to_a_node_that_can_run_it() -> None:
    chosen = steals(
        [Q("q1"), Q("q2")], [N("n1")], affinity_wait=2.0,
        can_run=lambda task, node: task.pk == "q2",
    )
    assert pairs(chosen) == [("q2", "n1")]


def test_a_task_queued_behind_its_own_model_stays_while_a_warm_node_is_worth_waiting_for() -> None:
    warm_there = Q("q1", main_model="sdxl", warm_where_queued=True, queued_for=0.5)
    assert steals([warm_there], [N("n1", last_model="sd15")], affinity_wait=2.0) == []
    waited = Q("q1", main_model="sdxl", warm_where_queued=True, queued_for=2.5)
    assert pairs(steals([waited], [N("n1", last_model="sd15")], affinity_wait=2.0)) == [("q1", "n1")]


def test_an_idle_node_with_the_model_loaded_takes_it_at_once_and_is_preferred() -> None:
    warm_there = Q("q1", main_model="sdxl", warm_where_queued=True, queued_for=0.0)
    chosen = steals(
        [warm_there], [N("cold", last_model="sd15"), N("warm", last_model="sdxl")], affinity_wait=2.0
    )
    assert [(c.task.pk, c.node.pk, c.warm) for c in chosen] == [("q1", "warm", True)]


@pytest.mark.django_db
def test_a_pass_fills_idle_nodes_first_then_busy_ones_with_room_never_full_ones() -> None:
    """The nodes it just made busy included: each gets its next task before its first ends."""
    now = timezone.now()
    idle = Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    room = Node.objects.create(url="http://room:1", status=Node.Status.BUSY, held=1)
    Node.objects.create(url="http://full:1", status=Node.Status.BUSY, held=2)
    ready = [
        Task.objects.create(
            type="ComfyUI", params={}, graph={}, files_ready=True, prompt_id=str(uuid.uuid4())
        )
        for _ in range(4)
    ]
    Task.objects.filter(pk__in=[t.pk for t in ready]).update(created_at=now)
    choice = choose_assignments()
    given = [(pair.node.pk, ahead) for pair, ahead in choice.assignments]
    assert given == [(idle.pk, False), (room.pk, True), (idle.pk, True)]
    assert choice.steals == []

    started = assign_nodes(keep_clients={}).started
    assert [(task.node_id, ahead) for task, _, ahead in started] == given
    assert dict(Node.objects.values_list("url", "held")) == {
        "http://idle:1": 2, "http://room:1": 2, "http://full:1": 2,
    }
    assert Task.objects.filter(status=Task.Status.PENDING).count() == 1


@pytest.mark.django_db
def test_with_nothing_ready_an_idle_node_takes_back_the_task_queued_behind_another() -> None:
    busy = Node.objects.create(url="http://busy:1", status=Node.Status.BUSY, held=2)
    idle = Node.objects.create(url="http://idle:1", status=Node.Status.IDLE)
    started = timezone.now()
    running, queued = (
        Task.objects.create(
            type="ComfyUI", params={}, graph={}, status=Task.Status.RUNNING, node=busy,
            started_at=started + timezone.timedelta(seconds=i),
        )
        for i in range(2)
    )
    choice = choose_assignments()
    assert choice.assignments == []
    assert [(s.task.pk, s.node.pk) for s in choice.steals] == [(queued.pk, idle.pk)]

    Task.objects.filter(pk=queued.pk).update(steal_requested=True)  # asked once, not again
    assert choose_assignments().steals == []
