from __future__ import annotations

import httpx
import pytest
from rest_framework.views import APIView

from comfy_router.errors import flatten_errors
from tests.support.live_router import LiveRouter
from tests.support.urlconf import walk_routes

# The router's own JSON routes; ComfyUI's (workflows.comfyui_api) answer in ComfyUI's shape, and
# its uploads take multipart bodies only.
JSON_POST_ROUTES = [
    route.path
    for route in walk_routes()
    if (view := getattr(route.callback, "cls", None))
    and issubclass(view, APIView)
    and hasattr(view, "post")
    and not view.__module__.startswith("workflows.comfyui_api")
]


def assert_error_shape(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert "json" in response.headers["Content-Type"]
    body = response.json()
    assert set(body) == {"message", "detail"}
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detail"], dict)
    return body


def test_an_unknown_route_is_a_json_404(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        body = assert_error_shape(client.get("/no/such/route"), 404)
    assert "/no/such/route" in body["message"]


def test_a_wrong_method_is_a_json_405(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        assert_error_shape(client.delete("/doc/openapi.json"), 405)
        body = assert_error_shape(client.post("/health_check"), 405)
    assert body["detail"] == {"allowed": ["GET", "HEAD"]}


def test_missing_credentials_are_a_json_401(live_router: LiveRouter) -> None:
    assert_error_shape(httpx.get(live_router.url + "/doc/openapi.json"), 401)


@pytest.mark.parametrize("path", JSON_POST_ROUTES)
def test_a_malformed_json_body_is_a_json_400(module_router: LiveRouter, path: str) -> None:
    with module_router.client() as client:
        response = client.post(
            path, content=b'{"url": ', headers={"Content-Type": "application/json"}
        )
    body = assert_error_shape(response, 400)
    assert "JSON" in body["message"]


def test_nested_validation_errors_become_field_paths() -> None:
    errors = {
        "params": {
            "loras": [{}, {"weight": ["Too big."]}],
            "width": ["Must be a multiple of 8."],
            "non_field_errors": ["Inconsistent."],
        },
        "type": ["Unknown."],
    }
    assert flatten_errors(errors) == {
        "params.loras[1].weight": ["Too big."],
        "params.width": ["Must be a multiple of 8."],
        "params": ["Inconsistent."],
        "type": ["Unknown."],
    }
