"""With no node in the pool (none registered, or all offline or disabled), ComfyUI's routes as
the router serves them answer what a ComfyUI with nothing installed would: empty objects and
lists, a 404 for any model folder, and the router's own system with no device."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.utils import timezone

from nodes.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_an_empty_pool_has_no_class_model_or_device(client: Client, prefix: str) -> None:
    files = {"checkpoints": ["a.safetensors"], "embeddings": ["bad.pt"]}
    stats = {"system": {"comfyui_version": "0.7.0"}, "devices": [{"name": "cuda:0"}]}
    said = {"model_files": files, "capabilities_at": timezone.now(), "system_stats": stats}
    Node.objects.create(url="http://10.0.0.1:1", status=Node.Status.OFFLINE, **said)
    Node.objects.create(url="http://10.0.0.1:2", status=Node.Status.IDLE, enabled=False, **said)
    assert client.get(prefix + "/object_info").json() == {}
    assert client.get(prefix + "/object_info/KSampler").json() == {}
    assert client.get(prefix + "/models").json() == []
    assert client.get(prefix + "/models/checkpoints").status_code == 404
    assert client.get(prefix + "/embeddings").json() == []
    stats = client.get(prefix + "/system_stats").json()
    assert stats["devices"] == []
    assert stats["system"]["comfyui_version"] == "0.8.0"  # the API the router speaks
    assert stats["system"]["ram_total"] > 0
    assert client.get(prefix + "/features").status_code == 200
