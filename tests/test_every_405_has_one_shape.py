"""A wrong method gets the same 405 from every route, DRF's views and Django's alike: the method
and the path in the message, the allowed methods in `detail.allowed` and the Allow header."""

from __future__ import annotations

import pytest

from tests.support.live_router import LiveRouter


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/workflow", ["GET", "POST", "HEAD", "OPTIONS"]),
        ("PATCH", "/cluster/nodes", ["GET", "POST", "HEAD", "OPTIONS"]),
        ("POST", "/health_check", ["GET", "HEAD"]),
        ("DELETE", "/metrics", ["GET", "HEAD"]),
    ],
)
def test_a_wrong_method_names_itself_the_path_and_what_is_allowed(
    module_router: LiveRouter, method: str, path: str, allowed: list[str]
) -> None:
    with module_router.client() as client:
        response = client.request(method, path)
    assert response.status_code == 405
    body = response.json()
    assert body["message"] == f"Method {method} not allowed on {path}."
    assert sorted(body["detail"]["allowed"]) == sorted(allowed)
    assert sorted(m.strip() for m in response.headers["Allow"].split(",")) == sorted(allowed)
