"""Claiming a node for a task and releasing it: no node is ever given two tasks."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from nodes.models import Node
from nodes.probe import Probe
from nodes.services import (
    node_claim,
    node_mark_offline,
    node_record_probe,
    node_release_claim,
)
from tests.support.nodes import FAILURES, health_settings

pytestmark = pytest.mark.django_db(transaction=True)
ALIVE = Probe(
    ok=True, stats={"system": {"comfyui_version": "0.8.0"}, "devices": [{"name": "cuda:0"}]}
)
DEAD = Probe(ok=False, error="ConnectError: refused")


def make_nodes(count: int, status: str = Node.Status.IDLE, **fields: object) -> list[Node]:
    return [
        Node.objects.create(url=f"http://10.0.0.{i}:8188", status=status, **fields)
        for i in range(1, count + 1)
    ]


def status_of(node: Node) -> str:
    return Node.objects.get(pk=node.pk).status


def test_twenty_threads_racing_for_three_nodes_claim_each_node_once() -> None:
    nodes = make_nodes(3)
    wins: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(20)

    def dispatcher() -> None:
        try:
            start.wait()
            for node in nodes:
                if node_claim(node_id=node.pk):
                    with lock:
                        wins[node.pk] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert wins == {node.pk: 1 for node in nodes}
    assert {status_of(node) for node in nodes} == {"busy"}


def test_a_disabled_busy_or_offline_node_cannot_be_claimed() -> None:
    disabled = make_nodes(1, enabled=False)[0]
    offline = Node.objects.create(url="http://offline:8188", status=Node.Status.OFFLINE)
    busy = Node.objects.create(url="http://busy:8188", status=Node.Status.BUSY)
    assert not any(node_claim(node_id=node.pk) for node in (disabled, offline, busy))
    assert not node_claim(node_id=123456)


def test_release_makes_the_node_idle_again_and_remembers_what_it_ran() -> None:
    node = make_nodes(1)[0]
    before = Node.objects.get(pk=node.pk).idle_since
    assert node_claim(node_id=node.pk)
    holds_more = node_release_claim(
        node_id=node.pk, ran_model="sdxl.safetensors", ran_loras=["a.safetensors"]
    )
    assert holds_more is False
    released = Node.objects.get(pk=node.pk)
    assert (released.status, released.held) == ("idle", 0)
    assert (released.last_model, released.last_loras) == ("sdxl.safetensors", ["a.safetensors"])
    assert released.idle_since > before
    assert node_claim(node_id=node.pk)


def test_a_release_says_the_node_still_holds_a_task_queued_ahead() -> None:
    node = make_nodes(1)[0]
    assert node_claim(node_id=node.pk)
    assert node_claim(node_id=node.pk, ahead=True)
    assert node_release_claim(node_id=node.pk) is True
    assert (status_of(node), Node.objects.get(pk=node.pk).held) == ("busy", 1)
    assert node_release_claim(node_id=node.pk) is False
    assert status_of(node) == "idle"


def test_a_release_without_a_model_keeps_the_one_the_node_last_ran() -> None:
    node = make_nodes(1, last_model="sd15.safetensors")[0]
    assert node_claim(node_id=node.pk)
    node_release_claim(node_id=node.pk)
    assert Node.objects.get(pk=node.pk).last_model == "sd15.safetensors"


def test_failed_checks_take_idle_and_busy_nodes_offline_only_at_the_limit() -> None:
    idle, busy = make_nodes(2)
    assert node_claim(node_id=busy.pk)
    with health_settings():
        for _ in range(FAILURES - 1):
            node_record_probe(node_id=idle.pk, probe=DEAD)
            node_record_probe(node_id=busy.pk, probe=DEAD)
        assert (status_of(idle), status_of(busy)) == ("idle", "busy")
        node_record_probe(node_id=idle.pk, probe=DEAD)
        node_record_probe(node_id=busy.pk, probe=DEAD)
    assert (status_of(idle), status_of(busy)) == ("offline", "offline")


def test_a_successful_check_never_turns_a_busy_node_idle() -> None:
    node = make_nodes(1)[0]
    assert node_claim(node_id=node.pk)
    assert not node_record_probe(node_id=node.pk, probe=ALIVE)
    assert status_of(node) == "busy"
    assert Node.objects.get(pk=node.pk).device_name == "cuda:0"


def test_a_node_offline_during_its_task_is_revived_only_after_its_release() -> None:
    node = make_nodes(1)[0]
    assert node_claim(node_id=node.pk)
    with health_settings():
        for _ in range(FAILURES):
            node_record_probe(node_id=node.pk, probe=DEAD)
    assert not node_record_probe(node_id=node.pk, probe=ALIVE)
    assert status_of(node) == "offline"
    node_release_claim(node_id=node.pk)
    assert status_of(node) == "offline"
    assert node_record_probe(node_id=node.pk, probe=ALIVE)
    assert status_of(node) == "idle"


def test_a_node_marked_unreachable_is_out_at_once_and_back_at_its_next_answer() -> None:
    node = make_nodes(1)[0]
    assert node_claim(node_id=node.pk)
    node_mark_offline(node_id=node.pk, reason="websocket refused")
    marked = Node.objects.get(pk=node.pk)
    assert (marked.status, marked.held, marked.last_error) == (
        "offline", 0, "websocket refused"
    )
    assert node_record_probe(node_id=node.pk, probe=ALIVE)
    assert status_of(node) == "idle"
