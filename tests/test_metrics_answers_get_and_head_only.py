"""/metrics answers GET and HEAD; any other method is the API's JSON 405 naming those two, never a
CSRF failure (the endpoint is guarded by Basic auth, not by a session)."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def authorized() -> Client:
    return Client(
        enforce_csrf_checks=True,
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode(),
    )


def test_a_head_answers_like_a_get_without_the_body(authorized: Client) -> None:
    response = authorized.head("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b""


@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete"])
def test_other_methods_are_a_json_405_allowing_get_and_head(
    authorized: Client, method: str
) -> None:
    response = getattr(authorized, method)("/metrics")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {
        "message": f"Method {method.upper()} not allowed on /metrics.",
        "detail": {"allowed": ["GET", "HEAD"]},
    }


def test_other_methods_still_need_basic_auth() -> None:
    response = Client(enforce_csrf_checks=True).post("/metrics")
    assert response.status_code == 401
