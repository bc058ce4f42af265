"""`/health_check` answers GET and HEAD without credentials: load balancers and monitors probe
with either."""

from __future__ import annotations

import httpx

from tests.support.live_router import LiveRouter


def test_get_and_head_answer_200_and_head_sends_no_body(module_router: LiveRouter) -> None:
    with httpx.Client(base_url=module_router.url) as client:
        got = client.get("/health_check")
        head = client.head("/health_check")
    assert (got.status_code, got.text) == (200, "ok")
    assert head.status_code == 200 and head.content == b""
