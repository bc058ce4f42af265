from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.test import Client

from comfy_router.errors import api_exception_handler
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter

LIMIT = 4096
MESSAGE_PART = f"{LIMIT} bytes (COMFY_ROUTER__MAX_REQUEST_BYTES={LIMIT})"


@pytest.fixture(scope="module")
def small_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRouter]:
    router = LiveRouter(
        base_dir=tmp_path_factory.mktemp("router"),
        env_overrides={"COMFY_ROUTER__MAX_REQUEST_BYTES": str(LIMIT)},
    ).start()
    yield router
    router.stop()


def body_of_size(size: int) -> bytes:
    """A valid ComfyUI submission, padded with JSON whitespace to exactly `size` bytes."""
    body = json.dumps(comfyui_body(tiny_graph(seed=size))).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def assert_too_large(status: int, body: dict[str, Any]) -> None:
    assert status == 413
    assert MESSAGE_PART in body["message"]
    assert body["detail"] == {"body": [body["message"]]}


def raw_request(router: LiveRouter, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Sends bytes as they are and reads the whole answer (the router closes the connection)."""
    with socket.create_connection(("127.0.0.1", router.port), timeout=20) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_a_body_of_exactly_the_limit_is_accepted(small_router: LiveRouter) -> None:
    with small_router.client() as client:
        response = client.post(
            "/workflow", content=body_of_size(LIMIT), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 202, response.text


def test_one_byte_over_the_limit_is_a_json_413_naming_the_limit(small_router: LiveRouter) -> None:
    with small_router.client() as client:
        response = client.post(
            "/workflow",
            content=body_of_size(LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
    assert "json" in response.headers["Content-Type"]
    assert_too_large(response.status_code, response.json())


def test_a_huge_content_length_is_refused_before_the_body_is_sent(small_router: LiveRouter) -> None:
    head = (
        "POST /workflow HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    )
    assert_too_large(*raw_request(small_router, head, b'{"type": '))


def test_an_expect_continue_request_over_the_limit_gets_no_100_continue(
    small_router: LiveRouter,
) -> None:
    head = (
        "POST /workflow HTTP/1.1\r\nHost: router\r\nExpect: 100-continue\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n"
    )
    assert_too_large(*raw_request(small_router, head))


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_body_over_the_limit_is_a_json_413(small_router: LiveRouter) -> None:
    with small_router.client() as client:
        response = client.post(
            "/workflow",
            content=chunked(body_of_size(LIMIT + 1)),
            headers={"Content-Type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert_too_large(response.status_code, response.json())


def test_an_endless_chunked_body_is_cut_off_at_the_limit(small_router: LiveRouter) -> None:
    head = "POST /workflow HTTP/1.1\r\nHost: router\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    assert_too_large(*raw_request(small_router, head, chunk * (LIMIT // 1024 + 1)))


def test_a_chunked_body_within_the_limit_reaches_the_api(small_router: LiveRouter) -> None:
    with small_router.client() as client:
        response = client.post(
            "/workflow",
            content=chunked(body_of_size(LIMIT)),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 202, response.text


def test_the_connection_serves_the_next_client_after_a_413(small_router: LiveRouter) -> None:
    test_a_huge_content_length_is_refused_before_the_body_is_sent(small_router)
    with small_router.client() as client:
        assert client.get("/workflow").status_code == 200


@pytest.fixture
def small_limit(settings: Any) -> Callable[[], Client]:
    settings.ROUTER = dataclasses.replace(settings.ROUTER, max_request_bytes=LIMIT)
    return Client


def test_the_middleware_refuses_a_declared_length_over_the_limit(
    small_limit: Callable[[], Client],
) -> None:
    response = small_limit().post(
        "/workflow", data=body_of_size(LIMIT + 1), content_type="application/json"
    )
    assert_too_large(response.status_code, response.json())


def test_djangos_request_data_too_big_is_a_json_413(
    small_limit: Callable[[], Client], settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = small_limit().post(
        "/admin/login/", data="username=" + "a" * 2000, content_type="application/x-www-form-urlencoded"
    )
    assert_too_large(response.status_code, response.json())


def test_the_api_exception_handler_turns_request_data_too_big_into_413() -> None:
    response = api_exception_handler(RequestDataTooBig("too big"), {})
    assert response is not None
    limit = settings.ROUTER.max_request_bytes
    assert response.status_code == 413
    assert f"{limit} bytes" in response.data["message"]
