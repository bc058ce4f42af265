"""No task waits forever (workflows.scheduling.fair_share): within a priority, clients take
turns; across priorities, a task that has waited past the starvation bound (PROMOTE_AFTER) goes
before every task that has not, whatever the priorities, oldest first."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.scheduling.fair_share import PROMOTE_AFTER, fair_order

NOW = datetime(2026, 1, 1, 12, 0)
BOUND = NOW - timedelta(seconds=PROMOTE_AFTER)


@dataclass(frozen=True)
class T:
    pk: str
    client: Hashable
    priority: int | None
    created_at: datetime


def waited(pk: str, client: Hashable, priority: int, seconds: float) -> T:
    return T(pk, client, priority, NOW - timedelta(seconds=seconds))


def order(tasks: list[T], held: dict[Hashable, int] | None = None) -> list[str]:
    return [t.pk for t in fair_order(tasks, held=held or {}, promote_before=BOUND)]


def test_a_low_priority_task_within_the_bound_waits_for_higher_ones() -> None:
    tasks = [waited("low", "l", 0, PROMOTE_AFTER - 1), waited("high", "h", 9, 1)]
    assert order(tasks) == ["high", "low"]


def test_a_task_past_the_bound_goes_before_any_priority() -> None:
    tasks = [waited("high", "h", 9, 1), waited("low", "l", 0, PROMOTE_AFTER + 1)]
    assert order(tasks, held={"l": 3}) == ["low", "high"]


def test_tasks_past_the_bound_go_oldest_first_whatever_their_priority() -> None:
    tasks = [
        waited("high-old", "h", 9, PROMOTE_AFTER + 20),
        waited("low-older", "l", 0, PROMOTE_AFTER + 30),
        waited("high-newer", "h", 9, PROMOTE_AFTER + 10),
        waited("fresh", "c", 99, 1),
    ]
    assert order(tasks, held={"l": 5}) == ["low-older", "high-old", "high-newer", "fresh"]


def test_a_client_that_keeps_posting_cannot_hold_an_equal_one_back() -> None:
    """Round-robin: whatever the first client posts meanwhile, the second one's oldest task is
    within the first two of the order once it holds no more nodes than the first."""
    late = waited("b1", "b", 0, 5)
    for extra in (1, 10, 500):
        tasks = [waited(f"a{i}", "a", 0, 100 - i * 0.01) for i in range(extra)] + [late]
        assert "b1" in order(tasks, held={"a": 1, "b": 1})[:2]
