"""Nodes carry labels, set through the cluster API, the admin and `import_nodes`, by one rule
(lowercase letters, digits, `.`, `_`, `-`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from nodes.models import Node
from tests.support.live_router import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def test_the_cluster_api_takes_labels_and_shows_them(client: Client) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    response = client.post(
        "/cluster/nodes", {"url": url, "labels": ["video", "gpu-80gb", "video"]},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["labels"] == ["gpu-80gb", "video"]
    again = client.post(
        "/cluster/nodes", {"url": url, "labels": []}, content_type="application/json"
    )
    assert again.json()["labels"] == []
    bad = client.post(
        "/cluster/nodes", {"url": url, "labels": ["GPU 80"]}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert list(bad.json()["detail"]) == ["labels"]


def test_the_admin_edits_labels_as_one_line(client: Client) -> None:
    node = Node.objects.create(url=f"http://127.0.0.1:{free_port()}")
    page = reverse("admin:nodes_node_change", args=[node.pk])
    form = {"url": node.url, "name": "", "token": "", "enabled": "on", "labels": "video, gpu-80gb"}
    assert client.post(page, form).status_code == 302
    node.refresh_from_db()
    assert node.labels == ["gpu-80gb", "video"]
    form["labels"] = "Bad Label"
    assert client.post(page, form).status_code == 200  # the form again, with the error
    node.refresh_from_db()
    assert node.labels == ["gpu-80gb", "video"]


def test_import_nodes_takes_labels_from_json(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    listing = tmp_path / "nodes.json"
    listing.write_text(json.dumps([{"url": url, "labels": ["video"]}]))
    call_command("import_nodes", "--file", str(listing), "--no-check")
    assert Node.objects.get(url=url).labels == ["video"]
    listing.write_text(json.dumps([{"url": url, "labels": ["Not ok"]}]))
    with pytest.raises(CommandError, match="item 1"):
        call_command("import_nodes", "--file", str(listing), "--no-check")
