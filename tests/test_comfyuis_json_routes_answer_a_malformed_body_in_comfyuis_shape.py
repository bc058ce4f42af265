"""ComfyUI's own JSON routes (`workflows.comfyui_api`) answer a body that is no JSON object with
a 400 in ComfyUI's error shape, which ComfyUI clients show, never a 500 or the router's shape."""

from __future__ import annotations

import pytest
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from tests.support.live_router import LiveRouter
from tests.support.urlconf import walk_routes

COMFYUI_JSON_POST_ROUTES = [
    route.path
    for route in walk_routes()
    if (view := getattr(route.callback, "cls", None))
    and issubclass(view, APIView)
    and hasattr(view, "post")
    and view.__module__.startswith("workflows.comfyui_api")
    and any(issubclass(parser, JSONParser) for parser in view.parser_classes)
]


def test_every_comfyui_json_route_is_covered() -> None:
    paths = set(COMFYUI_JSON_POST_ROUTES)
    for expected in ("/prompt", "/queue", "/interrupt", "/history", "/api/prompt"):
        assert expected in paths


@pytest.mark.parametrize("path", COMFYUI_JSON_POST_ROUTES)
@pytest.mark.parametrize("body", [b'{"prompt": ', b"[1, 2]", b'"text"'])
def test_a_body_that_is_no_json_object_is_a_comfyui_400(
    module_router: LiveRouter, path: str, body: bytes
) -> None:
    with module_router.client() as client:
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    if path.endswith("interrupt") and body != b'{"prompt": ':
        # Valid JSON with no prompt_id: refused for that reason, in the same shape.
        assert response.json()["error"]["type"] == "prompt_id_required"
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) == {"error", "node_errors"}
    assert set(answer["error"]) == {"type", "message", "details", "extra_info"}
    assert answer["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/queue", {"delete": "x"}, "delete"),
        ("/history", {"delete": "x"}, "delete"),
        ("/history", {"delete": ["00000000-0000-0000-0000-000000000000"] * 1001}, "delete"),
        ("/history?max_items=x", None, "max_items"),
    ],
)
def test_a_refused_field_is_named_in_plain_words(
    module_router: LiveRouter, path: str, body: dict | None, field: str
) -> None:
    """The message a client shows is the refusal itself, not a Python repr of a list of them."""
    with module_router.client() as client:
        response = client.request("GET" if body is None else "POST", path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "ErrorDetail" not in error["message"] and "[" not in error["message"], error
    assert error["message"] == error["details"]
    assert error["message"].startswith(f"{field}: "), error
