"""The node registry, /metrics and the admin are the operator's: a client's key gets a 403 in the
API's error shape, while the operator's Basic credentials go on reaching them."""

from __future__ import annotations

import httpx

from tests.support.clients import client_with_key, key_client
from tests.support.live_router import LiveRouter

OPERATOR_ROUTES = [
    ("GET", "/cluster/nodes"),
    ("POST", "/cluster/nodes"),
    ("POST", "/cluster/nodes/delete"),
    ("GET", "/metrics"),
    ("GET", "/admin/"),
    ("GET", "/admin/workflows/task/"),
]


def test_a_client_key_gets_a_403_on_the_operators_routes(live_router: LiveRouter) -> None:
    key = client_with_key(live_router, "team-a")
    with key_client(live_router, key) as client:
        for method, path in OPERATOR_ROUTES:
            response = client.request(method, path, json={"url": "http://gpu-1:8188"})
            assert response.status_code == 403, (method, path, response.text)
            assert set(response.json()) == {"message", "detail"}, (method, path)
        by_token = httpx.get(live_router.url + "/metrics", params={"token": key})
        assert by_token.status_code == 403
        # What a client may use: the task API, the pool's models and the docs.
        assert client.get("/models").status_code == 200
        assert client.get("/doc/openapi.json").status_code == 200


def test_the_operator_still_reaches_them_with_basic_credentials(live_router: LiveRouter) -> None:
    client_with_key(live_router, "team-a")
    with live_router.client() as operator:
        assert operator.get("/cluster/nodes").status_code == 200
        assert operator.get("/metrics").status_code == 200
        assert operator.get("/admin/").status_code == 200


def test_a_bad_key_on_an_operators_route_is_a_401_not_a_403(live_router: LiveRouter) -> None:
    response = httpx.get(
        live_router.url + "/cluster/nodes", headers={"Authorization": "Bearer cr_" + "x" * 43}
    )
    assert response.status_code == 401
