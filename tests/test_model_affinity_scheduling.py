"""The pure pairing of ready tasks with idle nodes (workflows.scheduling.affinity.plan)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workflows.scheduling.affinity import HoldBackClock, plan


@dataclass(frozen=True)
class T:
    pk: str
    main_model: str = ""
    loras: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class N:
    pk: str
    last_model: str = ""
    last_loras: Sequence[str] = field(default_factory=tuple)


def pairs(
    tasks: list[T],
    nodes: list[N],
    busy: Sequence[str] = (),
    waited: dict[str, float] | None = None,
    wait: float = 2.0,
) -> list[tuple[str, str]]:
    chosen = plan(tasks, nodes, busy_models=busy, waited=dict(waited or {}), affinity_wait=wait)
    return [(a.task.pk, a.node.pk) for a in chosen.assignments]


def test_a_task_goes_to_the_idle_node_that_has_its_model_loaded() -> None:
    nodes = [N("n1", "a.safetensors"), N("n2", "b.safetensors")]
    assert pairs([T("t1", "b.safetensors")], nodes) == [("t1", "n2")]


def test_without_a_warm_node_a_task_goes_to_the_node_idle_longest() -> None:
    nodes = [N("oldest", "a"), N("newer", "b")]
    assert pairs([T("t1", "c")], nodes) == [("t1", "oldest")]


def test_a_task_without_a_main_model_goes_to_the_node_idle_longest() -> None:
    assert pairs([T("t1")], [N("n1", "a"), N("n2")]) == [("t1", "n1")]


def test_among_warm_nodes_the_one_with_the_most_matching_loras_wins() -> None:
    nodes = [N("n1", "a", ["x"]), N("n2", "a", ["x", "y"]), N("n3", "a")]
    assert pairs([T("t1", "a", ["x", "y"])], nodes) == [("t1", "n2")]


def test_among_equally_warm_nodes_the_one_idle_longest_wins() -> None:
    nodes = [N("n1", "a", ["x"]), N("n2", "a", ["x"])]
    assert pairs([T("t1", "a", ["x"])], nodes) == [("t1", "n1")]


def test_tasks_are_served_oldest_first() -> None:
    tasks = [T("first"), T("second"), T("third")]
    assert pairs(tasks, [N("n1"), N("n2")]) == [("first", "n1"), ("second", "n2")]


def test_a_task_waits_for_a_busy_node_running_its_model_instead_of_a_cold_one() -> None:
    assert pairs([T("t1", "a")], [N("cold", "b")], busy=["a"], waited={"t1": 0.5}) == []


def test_a_task_takes_a_cold_node_once_it_waited_affinity_wait() -> None:
    assert pairs([T("t1", "a")], [N("cold", "b")], busy=["a"], waited={"t1": 2.0}) == [
        ("t1", "cold")
    ]


def test_a_task_does_not_wait_when_no_node_runs_its_model() -> None:
    assert pairs([T("t1", "a")], [N("cold", "b")], busy=["c"], waited={"t1": 0.0}) == [
        ("t1", "cold")
    ]


def test_with_no_affinity_wait_a_task_never_waits() -> None:
    assert pairs([T("t1", "a")], [N("cold", "b")], busy=["a"], wait=0.0) == [("t1", "cold")]


def test_later_tasks_go_ahead_of_one_waiting_for_a_warm_node() -> None:
    tasks = [T("waits", "a"), T("goes", "b")]
    assert pairs(tasks, [N("n1", "b")], busy=["a"]) == [("goes", "n1")]


def test_a_node_given_a_model_in_this_pass_counts_as_coming_warm() -> None:
    tasks = [T("t1", "a"), T("t2", "a")]
    nodes = [N("warm", "a"), N("cold", "b")]
    assert pairs(tasks, nodes, waited={"t2": 0.1}) == [("t1", "warm")]


def test_a_cold_start_spares_a_node_another_waiting_task_wants_warm() -> None:
    tasks = [T("t1", "x"), T("t2", "y")]
    nodes = [N("holds_y", "y"), N("holds_z", "z")]
    assert pairs(tasks, nodes) == [("t1", "holds_z"), ("t2", "holds_y")]


def test_a_cold_start_takes_a_wanted_node_when_no_other_is_idle() -> None:
    tasks = [T("t1", "x"), T("t2", "y")]
    assert pairs(tasks, [N("holds_y", "y")]) == [("t1", "holds_y")]


def test_a_task_that_declines_a_cold_node_is_reported_as_held_back() -> None:
    chosen = plan([T("t1", "a")], [N("cold", "b")], busy_models=["a"], waited={}, affinity_wait=2)
    assert chosen.holding_back == ["t1"]


def test_only_a_task_fifo_would_have_started_now_begins_its_wait() -> None:
    tasks = [T("t1", "a"), T("t2", "a"), T("t3", "c")]
    chosen = plan(tasks, [N("cold", "b")], busy_models=["a"], waited={}, affinity_wait=2)
    assert [(a.task.pk, a.node.pk) for a in chosen.assignments] == [("t3", "cold")]
    assert chosen.holding_back == ["t1"]


def test_the_hold_back_clock_counts_from_the_first_hold() -> None:
    clock = HoldBackClock()
    clock.hold(["t1"], now=100.0)
    clock.hold(["t1"], now=101.0)
    assert clock.waited(["t1", "t2"], now=102.5) == {"t1": 2.5}


def test_the_hold_back_clock_forgets_tasks_no_longer_ready() -> None:
    clock = HoldBackClock()
    clock.hold(["t1"], now=100.0)
    clock.waited([], now=101.0)
    assert clock.waited(["t1"], now=105.0) == {}
