"""Registering a node checks it for at most REQUEST_CHECK_SECONDS, so nodes that accept
connections and never answer cannot keep the request threads busy: twenty such registrations
at once are each a quick 201 (`offline`, left to the health monitor) while `/health_check`,
which needs no credentials, keeps answering at once. At most REQUEST_CHECKS_AT_ONCE requests wait
on nodes at a time; a node registered meanwhile is `offline` at once, for the health monitor to
bring in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from nodes.services import REQUEST_CHECK_SECONDS, REQUEST_CHECKS_AT_ONCE
from tests.fake_comfyui import FakeComfyUIThread
from tests.support.live_router import LiveRouter

REGISTRATIONS = 20
# Generous bounds for a loaded test machine; before, each took HEALTH__TIMEOUT (3 s) of a
# request thread, and the health check waited for several of them.
HEALTH_CHECK_SECONDS = 1.5
REGISTRATION_SECONDS = 4.0


@pytest.fixture
def hanging_nodes() -> Iterator[list[FakeComfyUIThread]]:
    nodes = [FakeComfyUIThread(hang=True) for _ in range(REGISTRATIONS)]
    yield nodes
    for node in nodes:
        node.close()


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_registering_many_nodes_that_hang_leaves_the_health_check_answering_at_once(
    hanging_nodes: list[FakeComfyUIThread], router_factory: Callable[..., LiveRouter]
) -> None:
    router = router_factory(COMFY_ROUTER__HEALTH__TIMEOUT="3")  # the default
    assert REQUEST_CHECK_SECONDS < 1
    with router.client() as api, ThreadPoolExecutor(REGISTRATIONS) as pool:
        register = [
            pool.submit(timed, lambda url=node.url: api.post("/cluster/nodes", json={"url": url}))
            for node in hanging_nodes
        ]
        health_checks = []
        while not all(future.done() for future in register):
            health_checks.append(timed(lambda: api.get("/health_check", auth=None)))
            time.sleep(0.05)
        registered = [future.result() for future in register]

    assert health_checks and all(r.status_code == 200 for r, _ in health_checks)
    assert max(seconds for _, seconds in health_checks) < HEALTH_CHECK_SECONDS
    for response, seconds in registered:
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "offline"
        assert seconds < REGISTRATION_SECONDS


def test_a_node_registered_while_others_are_being_checked_is_left_to_the_health_monitor(
    hanging_nodes: list[FakeComfyUIThread], router_factory: Callable[..., LiveRouter]
) -> None:
    router = router_factory()
    with FakeComfyUIThread() as answering, router.client() as api, ThreadPoolExecutor(2) as pool:
        waiting = [
            pool.submit(api.post, "/cluster/nodes", json={"url": node.url})
            for node in hanging_nodes[:REQUEST_CHECKS_AT_ONCE]
        ]
        time.sleep(REQUEST_CHECK_SECONDS / 4)  # both are waiting on their node

        response, seconds = timed(lambda: api.post("/cluster/nodes", json={"url": answering.url}))

        assert response.status_code == 201 and response.json()["status"] == "offline"
        assert seconds < REQUEST_CHECK_SECONDS
        assert all(future.result().json()["status"] == "offline" for future in waiting)
        deadline = time.monotonic() + 10
        while (node := listed(api, answering.url))["status"] != "idle":
            assert time.monotonic() < deadline, node
            time.sleep(0.1)
        assert node["node_classes"]  # learned before it turned idle


def listed(api: httpx.Client, url: str) -> dict:
    nodes = api.get("/cluster/nodes").json()["nodes"]
    return next(node for node in nodes if node["url"] == url)
