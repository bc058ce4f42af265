from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import CREDENTIALS, LiveRouter

LIMIT = 7


def test_exactly_the_pending_limit_is_accepted_under_200_concurrent_posts(router_factory) -> None:
    router: LiveRouter = router_factory(COMFY_ROUTER__PENDING_LIMIT=str(LIMIT))

    def post(seed: int) -> httpx.Response:
        with httpx.Client(base_url=router.url, auth=CREDENTIALS, timeout=60) as client:
            return client.post("/workflow", json=comfyui_body(tiny_graph(seed)))

    with ThreadPoolExecutor(max_workers=40) as pool:
        responses = list(pool.map(post, range(200)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(202) == LIMIT, statuses
    assert statuses.count(429) == 200 - LIMIT, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert str(LIMIT) in refused.json()["message"]
    with router.client() as client:
        assert client.get("/workflow", params={"status": "pending"}).json()["count"] == LIMIT
