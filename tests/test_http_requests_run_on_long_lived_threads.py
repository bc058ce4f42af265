"""Django under ASGI gives every request a new thread (so a new database connection); the router's
handler runs requests on a few long-lived threads, the whole middleware chain and the view in
one of them."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.http import HttpRequest, JsonResponse
from django.urls import path

from comfy_router.http_handler import REQUEST_THREADS, RouterASGIHandler

AUTH = b"Basic " + base64.b64encode(b"admin:admin")


def where(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"thread": threading.get_ident()})


urlpatterns = [path("where", where)]


async def thread_of_one_request(handler: RouterASGIHandler) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/where",
        "raw_path": b"/where",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", AUTH)],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    assert start["status"] == 200, start
    body = await communicator.receive_output(10)
    await communicator.wait(10)
    return json.loads(body["body"])["thread"]


@pytest.fixture
def handler(settings) -> RouterASGIHandler:  # noqa: ANN001 - pytest-django's settings fixture
    settings.ROOT_URLCONF = __name__
    return RouterASGIHandler()


async def test_requests_one_after_another_all_run_on_the_same_thread(
    handler: RouterASGIHandler,
) -> None:
    threads = [await thread_of_one_request(handler) for _ in range(20)]
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()  # never on the event loop's thread


async def test_concurrent_requests_share_a_bounded_set_of_threads(
    handler: RouterASGIHandler,
) -> None:
    threads = await asyncio.gather(*(thread_of_one_request(handler) for _ in range(40)))
    assert 1 < len(set(threads)) <= REQUEST_THREADS
    again = await asyncio.gather(*(thread_of_one_request(handler) for _ in range(40)))
    assert set(again) <= set(threads)  # the same threads serve the next requests
