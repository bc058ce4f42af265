"""Model affinity inside the fair share: the pairing (workflows.scheduling.affinity.plan) takes
tasks in the fair order (workflows.scheduling.fair_share.fair_order), still prefers a node that
has a task's model loaded, and lets a task waiting for a warm node be passed by the next."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from workflows.scheduling.affinity import plan
from workflows.scheduling.fair_share import fair_order

START = datetime(2026, 1, 1, 12, 0)


@dataclass(frozen=True)
class T:
    pk: str
    client: Hashable
    main_model: str
    created_at: datetime
    priority: int | None = 0
    loras: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class N:
    pk: str
    last_model: str = ""
    last_loras: Sequence[str] = field(default_factory=tuple)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def pairs(
    tasks: list[T], nodes: list[N], held: dict[Hashable, int], busy: Sequence[str] = ()
) -> list[tuple[str, str]]:
    ordered = fair_order(tasks, held=held, promote_before=START - timedelta(days=1))
    chosen = plan(ordered, nodes, busy_models=busy, waited={}, affinity_wait=2.0)
    return [(a.task.pk, a.node.pk) for a in chosen.assignments]


def test_each_task_in_the_fair_order_goes_to_the_node_with_its_model() -> None:
    tasks = [T("a1", "a", "sd15", at(0)), T("a2", "a", "sd15", at(1)), T("b1", "b", "sdxl", at(9))]
    nodes = [N("n-sd15", "sd15"), N("n-sdxl", "sdxl")]
    assert pairs(tasks, nodes, held={"a": 3}) == [("b1", "n-sdxl"), ("a1", "n-sd15")]


def test_a_turn_waiting_for_a_warm_node_lets_the_next_turn_go() -> None:
    tasks = [T("a1", "a", "flux", at(0)), T("b1", "b", "sdxl", at(9)), T("b2", "b", "sdxl", at(10))]
    # b holds nothing, so its task comes first; it waits for the busy node running sdxl, and
    # a's goes to the cold node meanwhile.
    assert pairs(tasks, [N("cold", "sd15")], held={"a": 1}, busy=["sdxl"]) == [("a1", "cold")]
