"""The executor takes a task the dispatcher of its process just assigned as the dispatcher read it,
but only for that lease and only while fresh; otherwise it reads the database."""

from __future__ import annotations

import uuid

import pytest

from workflows.execution import run as executor
from workflows.execution.run import HandOvers
from workflows.models import Task


def a_task() -> Task:
    return Task(id=uuid.uuid4(), type=Task.Type.COMFYUI, status=Task.Status.RUNNING)


def test_a_task_handed_over_is_taken_once_for_its_owner() -> None:
    hand_overs = HandOvers()
    task = a_task()
    hand_overs.put(task, "dispatcher-run-1")
    assert hand_overs.take(task.pk, "someone-else") is None
    hand_overs.put(task, "dispatcher-run-1")
    assert hand_overs.take(task.pk, "dispatcher-run-1") is task
    assert hand_overs.take(task.pk, "dispatcher-run-1") is None


def test_a_hand_over_older_than_a_third_of_the_lease_is_not_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(executor.time, "monotonic", lambda: clock[0])
    hand_overs = HandOvers()
    task = a_task()
    hand_overs.put(task, "owner")
    clock[0] += HandOvers.fresh_for()
    assert hand_overs.take(task.pk, "owner") is None


def test_hand_overs_nobody_took_do_not_pile_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(executor.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(executor, "MAX_HAND_OVERS", 10)
    hand_overs = HandOvers()
    for _ in range(10):
        hand_overs.put(a_task(), "taken elsewhere")
    clock[0] += HandOvers.fresh_for()
    kept = a_task()
    hand_overs.put(kept, "owner")
    assert len(hand_overs) == 1
    assert hand_overs.take(kept.pk, "owner") is kept
