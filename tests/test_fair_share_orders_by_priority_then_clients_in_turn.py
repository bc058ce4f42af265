"""The fair share's order of ready tasks (workflows.scheduling.fair_share.fair_order, pure):
higher priority first, then clients in turn by the nodes they hold, first in first out within a
client; the operator's tasks are one more client of priority 0."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.scheduling.fair_share import fair_order

START = datetime(2026, 1, 1, 12, 0)
LONG_AGO = START - timedelta(days=1)  # no task here has waited past the starvation bound


@dataclass(frozen=True)
class T:
    pk: str
    client: Hashable
    priority: int | None
    created_at: datetime


def batch(client: Hashable, count: int, *, at: float, priority: int | None = 0) -> list[T]:
    """`count` tasks of `client`, made one second apart from `at` seconds after START."""
    return [
        T(f"{client}{i + 1}", client, priority, START + timedelta(seconds=at + i))
        for i in range(count)
    ]


def order(tasks: list[T], held: dict[Hashable, int] | None = None) -> list[str]:
    return [t.pk for t in fair_order(tasks, held=held or {}, promote_before=LONG_AGO)]


def test_a_single_clients_tasks_go_oldest_first() -> None:
    tasks = batch("a", 4, at=0)
    assert order(list(reversed(tasks))) == ["a1", "a2", "a3", "a4"]


def test_a_client_that_posts_after_a_big_batch_takes_turns_with_it() -> None:
    tasks = batch("a", 200, at=0) + batch("b", 3, at=300)
    assert order(tasks)[:6] == ["a1", "b1", "a2", "b2", "a3", "b3"]


def test_the_client_holding_the_fewest_nodes_goes_first() -> None:
    tasks = batch("a", 200, at=0) + batch("b", 3, at=300)
    assert order(tasks, held={"a": 4})[:5] == ["b1", "b2", "b3", "a1", "a2"]


def test_clients_holding_as_many_nodes_take_turns_oldest_task_first() -> None:
    tasks = batch("a", 3, at=10) + batch("b", 3, at=0) + batch("c", 3, at=5)
    held = {"a": 1, "b": 1, "c": 1}
    assert order(tasks, held) == ["b1", "c1", "a1", "b2", "c2", "a2", "b3", "c3", "a3"]


def test_within_a_client_tasks_stay_first_in_first_out() -> None:
    tasks = batch("a", 5, at=0) + batch("b", 5, at=1)
    ordered = order(tasks, held={"b": 2})
    assert [pk for pk in ordered if pk.startswith("a")] == ["a1", "a2", "a3", "a4", "a5"]
    assert [pk for pk in ordered if pk.startswith("b")] == ["b1", "b2", "b3", "b4", "b5"]


def test_a_higher_priority_client_goes_first_whatever_it_holds() -> None:
    tasks = batch("low", 3, at=0, priority=1) + batch("high", 2, at=50, priority=5)
    assert order(tasks, held={"high": 10}) == ["high1", "high2", "low1", "low2", "low3"]


def test_the_operators_tasks_are_one_more_client_of_priority_0() -> None:
    tasks = (
        batch(None, 3, at=0, priority=None)
        + batch("zero", 2, at=1, priority=0)
        + batch("above", 1, at=2, priority=1)
        + batch("below", 1, at=3, priority=-1)
    )
    assert order(tasks) == ["above1", "None1", "zero1", "None2", "zero2", "None3", "below1"]
