"""A disabled node's classes, model files and device leave ComfyUI's `/object_info`, `/models`
and `/system_stats` as the router serves them, and come back when it is enabled again."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from nodes.capabilities import Capabilities
from nodes.models import Node
from nodes.services import node_record_capabilities, node_set_enabled

pytestmark = pytest.mark.django_db


def a_node(port: int, class_type: str, checkpoint: str) -> Node:
    node = Node.objects.create(url=f"http://10.0.0.1:{port}", status=Node.Status.IDLE)
    loader = {"input": {"required": {"ckpt_name": [[checkpoint], {"tooltip": "The checkpoint."}]}}}
    answer = {"CheckpointLoaderSimple": loader, class_type: {"input": {"required": {}}}}
    node_record_capabilities(
        node_id=node.pk,
        capabilities=Capabilities(
            ok=True,
            node_classes=sorted(answer),
            model_files={"checkpoints": [checkpoint]},
            object_info=json.dumps(answer).encode(),
        ),
    )
    Node.objects.filter(pk=node.pk).update(system_stats={"devices": [{"name": "cuda:0"}]})
    return node


def test_a_disabled_nodes_classes_files_and_device_are_gone_until_it_is_enabled() -> None:
    client = Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())
    one = a_node(1, "OnlyOnOne", "one.safetensors")
    two = a_node(2, "OnlyOnTwo", "two.safetensors")

    def view() -> tuple[list[str], list[str], list[str], list[str]]:
        classes = client.get("/object_info").json()
        ckpt_names = classes["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
        devices = client.get("/system_stats").json()["devices"]
        names = [device["name"] for device in devices]
        return sorted(classes), client.get("/models/checkpoints").json(), ckpt_names, names

    everything = (
        ["CheckpointLoaderSimple", "OnlyOnOne", "OnlyOnTwo"],
        ["one.safetensors", "two.safetensors"],
        ["one.safetensors", "two.safetensors"],
        [f"node {one.pk}: cuda:0", f"node {two.pk}: cuda:0"],  # unnamed nodes go by their id
    )
    assert view() == everything
    node_set_enabled(node_ids=[two.pk], enabled=False)
    assert view() == (
        ["CheckpointLoaderSimple", "OnlyOnOne"],
        ["one.safetensors"],
        ["one.safetensors"],
        [f"node {one.pk}: cuda:0"],
    )
    assert client.get("/object_info/OnlyOnTwo").json() == {}
    node_set_enabled(node_ids=[two.pk], enabled=True)
    assert view() == everything
