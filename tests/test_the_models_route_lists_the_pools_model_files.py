"""`GET /cluster/models`: every model file the enabled nodes have said they have, with how many
have it."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.utils import timezone

from nodes.models import Node

pytestmark = pytest.mark.django_db


def test_it_counts_the_enabled_nodes_that_have_each_file() -> None:
    now = timezone.now()
    files = {"checkpoints": ["a.safetensors", "b.safetensors"], "loras": ["l.safetensors"]}
    Node.objects.create(url="http://10.0.0.1:1", model_files=files, capabilities_at=now)
    Node.objects.create(
        url="http://10.0.0.1:2", model_files={"checkpoints": ["a.safetensors"]}, capabilities_at=now
    )
    Node.objects.create(
        url="http://10.0.0.1:3", enabled=False, model_files={"vae": ["v.safetensors"]},
        capabilities_at=now,
    )  # fmt: skip
    Node.objects.create(url="http://10.0.0.1:4")  # has not said
    client = Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())
    response = client.get("/cluster/models")
    assert response.status_code == 200
    assert response.json() == {
        "models": [
            {"folder": "checkpoints", "name": "a.safetensors", "nodes": 2},
            {"folder": "checkpoints", "name": "b.safetensors", "nodes": 1},
            {"folder": "loras", "name": "l.safetensors", "nodes": 1},
        ]
    }


def test_it_needs_basic_auth() -> None:
    assert Client().get("/cluster/models").status_code == 401


def test_it_is_in_the_openapi_schema() -> None:
    client = Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())
    schema = client.get("/doc/openapi.json").json()
    assert "get" in schema["paths"]["/cluster/models"]
