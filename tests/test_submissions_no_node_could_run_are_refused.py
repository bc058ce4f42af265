"""Once the router knows what a registered node has, a submission that no registered node could
run (enabled or not, online or not) is refused at once with a 400 naming what is missing. One
that only an offline or disabled node could run waits; so does any submission to a pool whose
nodes have not said what they have, or to an empty pool."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from nodes.models import Node
from tests.support.cluster import comfyui_body, tiny_graph
from tests.workflow_params import body, build_in, sd15_params

pytestmark = pytest.mark.django_db(transaction=True)
CLASSES = ["EmptyImage", "SaveImageWebsocket", "CheckpointLoaderSimple", "CLIPTextEncode",
           "EmptyLatentImage", "KSampler", "VAEDecode"]  # fmt: skip


@pytest.fixture
def client() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def a_node(port: int, *, reported: bool = True, **fields: Any) -> Node:
    values: dict[str, Any] = {"url": f"http://10.0.0.1:{port}", "status": Node.Status.IDLE}
    if reported:
        values.update(
            node_classes=CLASSES,
            model_files={"checkpoints": ["sd15.safetensors"]},
            capabilities_at=timezone.now(),
        )
    return Node.objects.create(**{**values, **fields})


def post(client: Client, submission: dict[str, Any]) -> Any:
    return client.post("/workflow", submission, content_type="application/json")


def with_class(class_type: str) -> dict[str, Any]:
    graph = tiny_graph(1)
    graph["7"] = {"class_type": class_type, "inputs": {"image": ["1", 0]}}
    graph["2"]["inputs"]["images"] = ["7", 0]
    return comfyui_body(graph)


def test_a_node_class_no_node_has_is_named_by_its_node(client: Client) -> None:
    a_node(1)
    response = post(client, with_class("ImageInvert"))
    assert response.status_code == 400
    assert response.json()["detail"] == {
        "params.prompt.7.class_type": ["no node has the node class 'ImageInvert'"]
    }


def test_a_checkpoint_no_node_has_is_named_by_its_field(client: Client) -> None:
    a_node(1)
    response = post(client, body("SD15", sd15_params(checkpoint=build_in("foo.safetensors"))))
    assert response.status_code == 400
    assert response.json()["message"] == (
        "params.checkpoint: no node has checkpoints/foo.safetensors"
    )


def test_a_graph_file_no_node_has_is_named_by_its_input(client: Client) -> None:
    a_node(1)
    graph = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
        **tiny_graph(1),
    }
    response = post(client, comfyui_body(graph))
    assert response.status_code == 400
    assert response.json()["detail"] == {
        "params.prompt.4.inputs.ckpt_name": ["no node has checkpoints/x.safetensors"]
    }


def test_labels_no_node_has_are_named(client: Client) -> None:
    a_node(1, labels=["video"])
    response = post(client, comfyui_body(tiny_graph(1), node_labels=["gpu-80gb"]))
    assert response.status_code == 400
    assert response.json()["detail"] == {"node_labels": ["no node has the labels gpu-80gb"]}


def test_needs_met_only_on_separate_nodes_are_refused_together(client: Client) -> None:
    a_node(1, labels=["gpu-80gb"])
    a_node(2, node_classes=[*CLASSES, "ImageInvert"])
    response = post(client, {**with_class("ImageInvert"), "node_labels": ["gpu-80gb"]})
    assert response.status_code == 400
    assert response.json()["detail"] == {
        "params.prompt.7.class_type": ["no node has the node class 'ImageInvert'"]
    }


def test_what_only_a_disabled_or_offline_node_could_run_waits(client: Client) -> None:
    a_node(1)
    a_node(2, enabled=False, node_classes=[*CLASSES, "ImageInvert"])
    a_node(3, status=Node.Status.OFFLINE, labels=["gpu-80gb"])
    assert post(client, with_class("ImageInvert")).status_code == 202
    assert post(client, comfyui_body(tiny_graph(2), node_labels=["gpu-80gb"])).status_code == 202


def test_a_pool_that_has_not_said_what_it_has_accepts_and_waits(client: Client) -> None:
    a_node(1, reported=False)
    assert post(client, with_class("ImageInvert")).status_code == 202


def test_an_empty_pool_accepts_and_waits(client: Client) -> None:
    assert post(client, with_class("ImageInvert")).status_code == 202
    assert post(client, comfyui_body(tiny_graph(3), node_labels=["gpu-80gb"])).status_code == 202


def test_a_label_that_breaks_the_rule_is_a_400_naming_it(client: Client) -> None:
    response = post(client, comfyui_body(tiny_graph(1), node_labels=["GPU 80"]))
    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["node_labels"]
