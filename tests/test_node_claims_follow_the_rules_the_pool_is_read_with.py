"""A claim is a conditional UPDATE (nodes.models.CAN_TAKE_A_TASK, can_queue_ahead, in SQL), while
the dispatcher reads the pool with the ORM and sorts its nodes in Python (pool_state): for every
state a node can be in, a claim succeeds exactly where that read offers the node, and changes the
node as the rules say."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timezone

import pytest

from nodes.models import Node
from nodes.selectors import node_can_take_a_task
from nodes.services import node_claim, node_release_claim
from workflows.scheduling.assignment import pool_state

pytestmark = pytest.mark.django_db

STATES = list(
    itertools.product(
        (Node.Status.IDLE, Node.Status.BUSY, Node.Status.OFFLINE), (True, False), (0, 1, 2, 3)
    )
)

LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)


def make_node(status: str, enabled: bool, held: int) -> Node:
    return Node.objects.create(
        url=f"http://10.1.0.{Node.objects.count() + 1}:8188",
        status=status,
        enabled=enabled,
        held=held,
        last_model="old.safetensors",
        idle_since=LONG_AGO,
    )


@pytest.mark.parametrize(("status", "enabled", "held"), STATES)
def test_a_claim_for_an_idle_node_succeeds_exactly_where_the_pool_read_offers_it(
    settings: object, status: str, enabled: bool, held: int
) -> None:
    settings.ROUTER = dataclasses.replace(settings.ROUTER, queue_ahead=0)
    node = make_node(status, enabled, held)
    offered = node.pk in [state.pk for state in pool_state().idle]
    assert node_can_take_a_task() == offered

    claimed = node_claim(node_id=node.pk, model="sd15.safetensors", loras=["a.safetensors"])

    assert claimed == offered
    node.refresh_from_db()
    if claimed:
        assert (node.status, node.held) == (Node.Status.BUSY, 1)
        assert (node.last_model, node.last_loras) == ("sd15.safetensors", ["a.safetensors"])
    else:
        assert (node.status, node.held, node.last_model) == (status, held, "old.safetensors")


@pytest.mark.parametrize("queue_ahead", [1, 2])
@pytest.mark.parametrize(("status", "enabled", "held"), STATES)
def test_a_claim_to_queue_ahead_succeeds_exactly_where_the_pool_read_offers_it(
    settings: object, queue_ahead: int, status: str, enabled: bool, held: int
) -> None:
    settings.ROUTER = dataclasses.replace(settings.ROUTER, queue_ahead=queue_ahead)
    node = make_node(status, enabled, held)
    offered = node.pk in [state.pk for state in pool_state().room]
    idle = node.pk in [state.pk for state in pool_state().idle]
    assert node_can_take_a_task() == (offered or idle)

    claimed = node_claim(node_id=node.pk, model="sdxl.safetensors", ahead=True)

    assert claimed == offered
    node.refresh_from_db()
    assert node.held == (held + 1 if claimed else held)
    assert node.status == status
    assert node.last_model == ("sdxl.safetensors" if claimed else "old.safetensors")


def test_a_claim_without_a_model_leaves_the_nodes_model_as_it_was() -> None:
    node = make_node(Node.Status.IDLE, True, 0)

    assert node_claim(node_id=node.pk)

    node.refresh_from_db()
    assert (node.status, node.held, node.last_model) == (Node.Status.BUSY, 1, "old.safetensors")


@pytest.mark.parametrize(("status", "enabled", "held"), STATES)
def test_a_release_takes_one_hold_off_and_frees_the_node_with_its_last(
    status: str, enabled: bool, held: int
) -> None:
    node = make_node(status, enabled, held)

    holds_more = node_release_claim(node_id=node.pk, ran_model="ran.safetensors")

    node.refresh_from_db()
    assert holds_more == (held > 1)
    if held > 1:
        assert (node.status, node.held, node.last_model) == (status, held - 1, "old.safetensors")
        return
    assert node.held == 0
    assert node.last_model == "ran.safetensors"
    assert node.status == (Node.Status.IDLE if status == Node.Status.BUSY else status)
    assert (node.idle_since > LONG_AGO) == (status == Node.Status.BUSY)
