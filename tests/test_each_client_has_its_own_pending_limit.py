"""Each client's waiting tasks count against its own pending limit (its `pending_limit`, else
PENDING_LIMIT), and the operator's against PENDING_LIMIT: a client at its limit gets a 429 with
Retry-After, and nobody else does."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.clients import client_with_key, key_client
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter

GLOBAL_LIMIT = 3


def test_a_client_at_its_limit_is_refused_and_no_one_else_is(
    router_factory: Callable[..., LiveRouter],
) -> None:
    router = router_factory(COMFY_ROUTER__PENDING_LIMIT=str(GLOBAL_LIMIT))
    key_a = client_with_key(router, "team-a", "--pending-limit", "2")
    key_b = client_with_key(router, "team-b")  # no limit of its own: PENDING_LIMIT
    seed = iter(range(1000))

    def post(client: httpx.Client) -> int:
        return client.post("/workflow", json=comfyui_body(tiny_graph(next(seed)))).status_code

    with key_client(router, key_a) as a, key_client(router, key_b) as b:
        assert [post(a), post(a)] == [202, 202]
        refused = a.post("/workflow", json=comfyui_body(tiny_graph(next(seed))))
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "2 tasks" in refused.json()["message"]
        assert [post(b) for _ in range(GLOBAL_LIMIT)] == [202] * GLOBAL_LIMIT
        assert post(b) == 429
        with router.client() as operator:
            assert [post(operator) for _ in range(GLOBAL_LIMIT)] == [202] * GLOBAL_LIMIT
            assert post(operator) == 429
            # A cancelled task no longer waits: its client may submit again.
            first = a.get("/workflow").json()["results"][-1]["id"]
            assert a.delete(f"/workflow/{first}").status_code == 200
        assert post(a) == 202
