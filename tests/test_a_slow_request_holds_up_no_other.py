"""Requests run side by side: one that waits (a view checking a node, a slow database write)
holds up none of the requests that come after it, as long as fewer than REQUEST_THREADS are
in flight at once."""

from __future__ import annotations

import asyncio
import base64
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.http import HttpRequest, JsonResponse
from django.urls import path

from comfy_router.http_handler import REQUEST_THREADS, RouterASGIHandler

AUTH = b"Basic " + base64.b64encode(b"admin:admin")
released = threading.Event()


def slow(request: HttpRequest) -> JsonResponse:
    released.wait(30)
    return JsonResponse({"view": "slow"})


def quick(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"view": "quick"})


urlpatterns = [path("slow", slow), path("quick", quick)]


async def request(handler: RouterASGIHandler, route: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/{route}",
        "raw_path": f"/{route}".encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", AUTH)],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(20)
    await communicator.receive_output(20)
    await communicator.wait(20)
    return int(start["status"])


@pytest.fixture
def handler(settings) -> RouterASGIHandler:  # noqa: ANN001 - pytest-django's settings fixture
    settings.ROOT_URLCONF = __name__
    released.clear()
    return RouterASGIHandler()


async def test_quick_requests_are_answered_while_a_slow_one_waits(
    handler: RouterASGIHandler,
) -> None:
    waiting = asyncio.ensure_future(request(handler, "slow"))
    await asyncio.sleep(0.2)  # the slow one is in its view
    try:
        for _ in range(3):
            beside = REQUEST_THREADS - 1
            answers = await asyncio.wait_for(
                asyncio.gather(*(request(handler, "quick") for _ in range(beside))), 15
            )
            assert answers == [200] * beside
        assert not waiting.done()
    finally:
        released.set()
    assert await waiting == 200
