"""The pure pairing (workflows.scheduling.affinity.plan) gives a task only to a node that can run
it, and a task that no idle node can run holds up no later one; and which node can run what
(workflows.scheduling.capabilities)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.graphs.requirements import TaskNeeds
from workflows.scheduling.affinity import plan
from workflows.scheduling.capabilities import (
    NodeProfile,
    PoolProfile,
    Shortfall,
    shortfall,
)


@dataclass(frozen=True)
class T:
    pk: str
    main_model: str = ""
    loras: tuple[str, ...] = ()


@dataclass(frozen=True)
class N:
    pk: str
    last_model: str = ""
    last_loras: tuple[str, ...] = ()


def test_a_task_goes_past_an_idle_node_that_cannot_run_it() -> None:
    able = {("t1", "n2"), ("t2", "n1"), ("t2", "n2")}
    chosen = plan(
        [T("t1"), T("t2")],
        [N("n1"), N("n2")],
        busy_models=[],
        waited={},
        affinity_wait=2.0,
        can_run=lambda task, node: (task.pk, node.pk) in able,
    )
    assert [(a.task.pk, a.node.pk) for a in chosen.assignments] == [("t1", "n2"), ("t2", "n1")]


def test_a_task_no_idle_node_can_run_waits_and_later_ones_go() -> None:
    chosen = plan(
        [T("stuck"), T("t2")],
        [N("n1")],
        busy_models=[],
        waited={},
        affinity_wait=2.0,
        can_run=lambda task, node: task.pk != "stuck",
    )
    assert [(a.task.pk, a.node.pk) for a in chosen.assignments] == [("t2", "n1")]


NEEDS = TaskNeeds(
    classes=frozenset({"KSampler"}), models=frozenset({"loras/a.safetensors"}),
    labels=frozenset({"gpu-80gb"}),
)  # fmt: skip


def test_a_node_can_run_what_it_has_all_of() -> None:
    full = NodeProfile(
        1, True, frozenset({"KSampler", "X"}), frozenset({"loras/a.safetensors"}),
        frozenset({"gpu-80gb", "video"}),
    )  # fmt: skip
    assert full.can_run(NEEDS)
    assert not NodeProfile(2, True, full.classes, full.models, frozenset()).can_run(NEEDS)
    assert not NodeProfile(3, True, frozenset(), full.models, full.labels).can_run(NEEDS)
    assert not NodeProfile(4, True, full.classes, frozenset(), full.labels).can_run(NEEDS)


def test_a_node_that_has_not_said_may_have_anything_but_its_labels_are_known() -> None:
    assert NodeProfile(1, False, labels=frozenset({"gpu-80gb"})).can_run(NEEDS)
    assert not NodeProfile(2, False).can_run(NEEDS)


def test_the_shortfall_names_what_no_node_has() -> None:
    pool = PoolProfile({
        1: NodeProfile(1, True, frozenset({"KSampler"}), frozenset(), frozenset({"gpu-80gb"})),
        2: NodeProfile(2, True, frozenset(), frozenset({"loras/a.safetensors"}), frozenset()),
    })  # fmt: skip
    assert shortfall(NEEDS, pool) == Shortfall(models=frozenset({"loras/a.safetensors"}))
    both = TaskNeeds(classes=NEEDS.classes, models=NEEDS.models)
    assert shortfall(both, pool) == Shortfall(
        classes=NEEDS.classes, models=NEEDS.models, apart=True
    )
    assert shortfall(TaskNeeds(labels=frozenset({"tpu"})), pool) == Shortfall(
        labels=frozenset({"tpu"})
    )
    assert shortfall(NEEDS, PoolProfile()) is None
