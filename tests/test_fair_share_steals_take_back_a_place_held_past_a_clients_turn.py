"""Which tasks queued ahead on busy nodes are taken back for a waiting task that comes before them
in the fair order (`workflows.scheduling.fair_share.fair_steals`, pure), and that a dispatch pass
asks for the right one (`workflows.scheduling.assignment.assign_nodes`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from clients.models import Client
from clients.services import client_create
from nodes.models import Node
from workflows.models import Task
from workflows.scheduling import ready as ready_read
from workflows.scheduling.assignment import assign_nodes
from workflows.scheduling.fair_share import fair_steals

T0 = datetime(2026, 1, 1, 12, 0)
CUTOFF = T0 - timedelta(hours=1)  # no task here has waited past the starvation bound


class W:
    """A waiting task."""

    def __init__(
        self, pk: str, client: str, at: int, *, priority: int = 0, main_model: str = ""
    ) -> None:
        self.pk, self.client, self.priority, self.main_model = pk, client, priority, main_model
        self.created_at = T0 + timedelta(seconds=at)


class Q:
    """A task queued ahead on a busy node."""

    def __init__(
        self,
        pk: str,
        client: str,
        at: int,
        *,
        node: str = "",
        priority: int = 0,
        node_model: str = "",
        queued_for: float = 0.0,
        asked: bool = False,
        started: bool = False,
    ) -> None:
        self.pk, self.client, self.priority = pk, client, priority
        self.created_at = T0 + timedelta(seconds=at)
        self.node, self.node_model, self.queued_for = node or f"node-{pk}", node_model, queued_for
        self.asked, self.started = asked, started


def taken(steals: list) -> list[tuple[str, str]]:
    return [(waiting.pk, queued.pk) for waiting, queued in steals]


def test_a_client_holding_no_node_takes_back_places_until_both_hold_as_many() -> None:
    """A holds 12 places on 4 nodes (4 running, 8 queued), B none: B's tasks take turns 1, 2,
    ... and each of A's queued tasks given back would take A's turn 12, 11, ...: B takes back
    six places, and its seventh (turn 7) comes after A's next (turn 6)."""
    queued = [Q(f"a{i}", "a", i, queued_for=8 - i) for i in range(8)]
    waiting = [W(f"b{i}", "b", 100 + i) for i in range(10)]
    steals = fair_steals(waiting, queued, held={"a": 12}, promote_before=CUTOFF)
    # Queued longest first: its node's prompt most likely ends first.
    assert taken(steals) == [(f"b{i}", f"a{i}") for i in range(6)]


def test_no_steal_when_the_queued_task_comes_first_in_the_fair_order() -> None:
    """A holds 5 and B 4: B's next (turn 5) does not come before A's queued one (turn 5,
    older); a higher-priority client's queued task is never taken for a lower one's."""
    waiting = [W("b0", "b", 100)]
    even = {"a": 5, "b": 4}
    assert fair_steals(waiting, [Q("a0", "a", 0)], held=even, promote_before=CUTOFF) == []
    urgent = Q("h0", "high", 50, priority=3)
    assert fair_steals(waiting, [urgent], held={"high": 8}, promote_before=CUTOFF) == []


def test_a_task_past_the_starvation_bound_takes_back_a_higher_priority_clients_place() -> None:
    [starving] = waiting = [W("low0", "low", 0)]
    queued = [Q("h0", "high", 50, priority=3)]
    cutoff = starving.created_at + timedelta(seconds=1)
    assert taken(fair_steals(waiting, queued, held={"high": 2}, promote_before=cutoff)) == [
        ("low0", "h0")
    ]


def test_no_steal_for_the_same_client() -> None:
    """First in, first out within a client: its waiting task never takes its own queued place,
    even one past the starvation bound behind a younger queued task of its own."""
    waiting = [W("a9", "a", 0)]
    queued = [Q("a1", "a", 50)]
    cutoff = T0 + timedelta(seconds=1)
    assert fair_steals(waiting, queued, held={"a": 8}, promote_before=cutoff) == []


def test_no_steal_for_a_task_that_cannot_run_on_the_queued_tasks_node() -> None:
    queued = [Q("a0", "a", 0, node="plain", queued_for=9.0), Q("a1", "a", 1, node="gpu-80gb")]
    waiting = [W("b0", "b", 100), W("b1", "b", 101)]

    def can_run(task: W, place: Q) -> bool:
        return place.node == "gpu-80gb"  # B's tasks need the label

    steals = fair_steals(waiting, queued, held={"a": 4}, promote_before=CUTOFF, can_run=can_run)
    assert taken(steals) == [("b0", "a1")]


def test_a_place_already_being_freed_is_not_asked_for_twice() -> None:
    """One of A's queued tasks is already asked to move: its place serves B's first, and only
    B's second needs a steal; a place this pass frees for an idle node counts the same."""
    queued = [Q("a0", "a", 0, asked=True), Q("a1", "a", 1), Q("a2", "a", 2)]
    waiting = [W("b0", "b", 100), W("b1", "b", 101)]
    steals = fair_steals(waiting, queued, held={"a": 6}, promote_before=CUTOFF)
    assert taken(steals) == [("b1", "a1")]
    assert fair_steals(waiting, queued, held={"a": 6}, promote_before=CUTOFF, in_flight=1) == []


def test_at_most_one_steal_per_waiting_task() -> None:
    queued = [Q(f"a{i}", "a", i) for i in range(4)]
    steals = fair_steals([W("b0", "b", 100)], queued, held={"a": 8}, promote_before=CUTOFF)
    assert taken(steals) == [("b0", "a0")]


def test_no_steal_of_a_task_that_started() -> None:
    queued = [Q("a0", "a", 0, started=True)]
    assert fair_steals([W("b0", "b", 100)], queued, held={"a": 8}, promote_before=CUTOFF) == []


def test_the_place_on_a_node_with_the_waiting_tasks_model_is_preferred() -> None:
    """Affinity is not waited for, but chosen when it is free."""
    queued = [
        Q("a0", "a", 0, node_model="sd15", queued_for=3.0),
        Q("a1", "a", 1, node_model="sdxl", queued_for=1.0),
    ]
    waiting = [W("b0", "b", 100, main_model="sdxl")]
    steals = fair_steals(waiting, queued, held={"a": 4}, promote_before=CUTOFF)
    assert taken(steals) == [("b0", "a1")]


def test_the_place_of_the_client_furthest_past_its_turn_is_taken_first() -> None:
    queued = [Q("a0", "a", 0, queued_for=5.0), Q("c0", "c", 1, queued_for=1.0)]
    waiting = [W("b0", "b", 100)]
    steals = fair_steals(waiting, queued, held={"a": 3, "c": 6}, promote_before=CUTOFF)
    assert taken(steals) == [("b0", "c0")]


def task(client: Client, **fields: Any) -> Task:
    return Task.objects.create(
        type="ComfyUI", params={}, graph={}, prompt_id=str(uuid.uuid4()), submitted_by=client,
        **fields,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_pass_asks_for_a_task_queued_behind_another_clients_running_one_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Client A holds every node: two with a task queued ahead behind a running one, one with
    room, and has more waiting. B's task needs a label only the first two have: A's next takes
    the room, and B's task the place of A's task queued longest, asked back (never the running
    one before it); the next pass does not ask for the other one as well."""
    monkeypatch.setattr(ready_read.hint, "shared", False)
    a, b = client_create(name="a"), client_create(name="b")
    now = timezone.now()
    queued = []
    for i in range(2):
        busy = Node.objects.create(
            url=f"http://gpu:{i}", status=Node.Status.BUSY, held=2, labels=["gpu"]
        )
        task(a, status=Task.Status.RUNNING, node=busy, started_at=now - timedelta(seconds=9))
        since = now - timedelta(seconds=5 - i)  # the first queued longest
        queued.append(task(a, status=Task.Status.RUNNING, node=busy, started_at=since))
    room = Node.objects.create(url="http://room:1", status=Node.Status.BUSY, held=1)
    task(a, status=Task.Status.RUNNING, node=room, started_at=now)
    a_ready = [task(a, files_ready=True) for _ in range(3)]
    task(b, files_ready=True, requirements={"labels": ["gpu"]})

    assigned = assign_nodes(keep_clients={})
    assert [(t.pk, t.node_id) for t, _, _ in assigned.started] == [(a_ready[0].pk, room.pk)]
    # B's task (turn 1) comes before A's queued ones (given back, one would take A's turn 6).
    assert assigned.steals == [queued[0].pk]
    asked = Task.objects.filter(steal_requested=True).values_list("pk", flat=True)
    assert list(asked) == [queued[0].pk]

    Node.objects.filter(pk=room.pk).update(held=1)  # room again: the pass goes on
    again = assign_nodes(keep_clients={})
    assert [(t.pk, t.node_id) for t, _, _ in again.started] == [(a_ready[1].pk, room.pk)]
    assert again.steals == []  # the place asked for already is B's: not a second one
