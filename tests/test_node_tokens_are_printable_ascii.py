"""A node token goes into an HTTP header as is, so the cluster API, the admin and `node_upsert`
take only printable ASCII without whitespace; anything else is refused and nothing is saved."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from nodes.admin import NodeAdminForm
from nodes.models import Node
from nodes.services import node_upsert
from tests.support.live_router import free_port

pytestmark = pytest.mark.django_db
BAD_TOKENS = ["tök", "a\nb", "a b", "tab\there", "nul\x00", "x\N{NO-BREAK SPACE}y"]


@pytest.fixture
def api() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def unanswered_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_the_api_refuses_a_token_that_is_not_printable_ascii_and_saves_nothing(
    api: Client, token: str
) -> None:
    response = api.post(
        "/cluster/nodes", {"url": unanswered_url(), "token": token}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == ["token"]
    assert not Node.objects.exists()


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_the_api_refuses_a_bad_token_for_a_registered_node_and_keeps_the_old_one(
    api: Client, token: str
) -> None:
    url = unanswered_url()
    Node.objects.create(url=url, token="old-token")
    response = api.post("/cluster/nodes", {"url": url, "token": token}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert Node.objects.get().token == "old-token"


def test_the_api_takes_a_token_of_printable_ascii(api: Client) -> None:
    token = "Abc-123_~!#$%&'*+./:;<=>?@[]^`{|}"
    response = api.post(
        "/cluster/nodes", {"url": unanswered_url(), "token": token}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert Node.objects.get().token == token


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_the_admin_form_refuses_a_token_that_is_not_printable_ascii(token: str) -> None:
    form = NodeAdminForm(data={"url": unanswered_url(), "name": "", "token": token, "enabled": "on"})
    assert not form.is_valid()
    assert list(form.errors) == ["token"]


def test_the_admin_add_page_shows_the_error_and_saves_nothing() -> None:
    admin = Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())
    form = {"url": unanswered_url(), "name": "", "token": "tök", "enabled": "on"}
    response = admin.post(reverse("admin:nodes_node_add"), form)
    assert response.status_code == 200
    assert "printable ASCII" in response.content.decode()
    assert not Node.objects.exists()


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_node_upsert_refuses_a_token_that_is_not_printable_ascii(token: str) -> None:
    with pytest.raises(ValidationError):
        node_upsert(url=unanswered_url(), token=token)
    assert not Node.objects.exists()
