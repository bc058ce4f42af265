"""The docs (Swagger UI and its OpenAPI schema) answer GET and HEAD; any other method, OPTIONS
included, is the API's JSON 405 naming those two."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

DOCS = ["/doc", "/doc/openapi.json"]


@pytest.fixture
def authorized() -> Client:
    return Client(
        enforce_csrf_checks=True,
        raise_request_exception=False,
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode(),
    )


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_answer_get_and_head(authorized: Client, path: str) -> None:
    assert authorized.get(path).status_code == 200
    head = authorized.head(path)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", DOCS)
def test_other_methods_on_the_docs_are_a_json_405_allowing_get_and_head(
    authorized: Client, path: str, method: str
) -> None:
    response = getattr(authorized, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert "json" in response["Content-Type"]
    assert set(response.json()) == {"message", "detail"}
