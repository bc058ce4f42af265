"""The add page of a node shows only what the operator sets: it has no status until checked."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse

from nodes.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def test_the_add_page_shows_no_status_or_health(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:nodes_node_add")).content.decode()
    assert 'name="url"' in page and 'name="token"' in page
    assert "node-status" not in page
    assert "Health" not in page and "health_failures" not in page


def test_a_saved_nodes_page_shows_its_status(admin_client: Client) -> None:
    node = Node.objects.create(url="http://127.0.0.1:9", status=Node.Status.OFFLINE)
    page = admin_client.get(reverse("admin:nodes_node_change", args=[node.pk])).content.decode()
    assert "node-status-offline" in page
