"""Each node's `/object_info` answer is stored once per distinct answer: nodes of the same
installation share one compressed copy, a node whose answer changes points to the new one, and
a copy no node points to is dropped once none has sent it for OBJECT_INFO_GRACE."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from nodes.capabilities import Capabilities
from nodes.models import Node, ObjectInfo
from nodes.services import OBJECT_INFO_GRACE, node_record_capabilities, object_info_prune
from tests.fake_comfyui.schema import object_info

pytestmark = pytest.mark.django_db


def record(node: Node, answer: dict[str, object]) -> None:
    capabilities = Capabilities(
        ok=True, node_classes=sorted(answer), object_info=json.dumps(answer).encode()
    )
    node_record_capabilities(node_id=node.pk, capabilities=capabilities)


def test_nodes_that_send_the_same_answer_share_one_compressed_copy() -> None:
    nodes = [Node.objects.create(url=f"http://10.0.0.1:{port}") for port in (1, 2, 3)]
    for node in nodes:
        record(node, object_info())
    [stored] = ObjectInfo.objects.all()
    assert set(Node.objects.values_list("object_info_id", flat=True)) == {stored.digest}
    assert json.loads(zlib.decompress(stored.body)) == object_info()
    assert len(stored.body) < stored.size / 5


def test_a_changed_answer_is_a_new_copy_and_the_old_one_goes_after_the_grace() -> None:
    node = Node.objects.create(url="http://10.0.0.1:1")
    record(node, {"A": {}})
    old = Node.objects.get(pk=node.pk).object_info_id
    record(node, {"A": {}, "B": {}})
    new = Node.objects.get(pk=node.pk).object_info_id
    assert new != old
    assert ObjectInfo.objects.filter(pk=old).exists()  # within the grace
    assert object_info_prune(now=timezone.now() + OBJECT_INFO_GRACE + timedelta(seconds=1)) == 1
    assert list(ObjectInfo.objects.values_list("digest", flat=True)) == [new]


def test_a_failed_answer_keeps_the_copy_the_node_sent_before() -> None:
    node = Node.objects.create(url="http://10.0.0.1:1")
    record(node, {"A": {}})
    before = Node.objects.get(pk=node.pk).object_info_id
    node_record_capabilities(node_id=node.pk, capabilities=Capabilities(ok=False, error="boom"))
    assert Node.objects.get(pk=node.pk).object_info_id == before


def test_capabilities_without_an_answer_leave_the_node_without_one() -> None:
    node = Node.objects.create(url="http://10.0.0.1:1")
    node_record_capabilities(node_id=node.pk, capabilities=Capabilities(ok=True))
    assert Node.objects.get(pk=node.pk).object_info_id is None
    assert not ObjectInfo.objects.exists()
