"""A HEAD answer is headers only, however large the GET answer would be, so the next request on
the same kept-alive connection reads its own status line."""

from __future__ import annotations

import base64
import socket

from tests.support.live_router import CREDENTIALS, LiveRouter

LARGE = "/doc/openapi.json"  # more than one 64 KiB body chunk from Django


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_the_path_used_here_answers_a_get_with_more_than_64_kib(module_router: LiveRouter) -> None:
    with module_router.client() as client:
        assert len(client.get(LARGE).content) > 64 * 1024


def test_a_head_of_a_large_answer_sends_no_body_before_the_next_answer(
    module_router: LiveRouter,
) -> None:
    token = base64.b64encode(":".join(CREDENTIALS).encode()).decode()
    pipelined = (
        f"HEAD {LARGE} HTTP/1.1\r\nHost: router\r\nAuthorization: Basic {token}\r\n\r\n"
        "GET /health_check HTTP/1.1\r\nHost: router\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", module_router.port), timeout=10) as sock:
        sock.sendall(pipelined.encode())
        received = read_until_closed(sock)
    head, _, after_head = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert after_head.startswith(b"HTTP/1.1 200"), after_head[:80]
    assert after_head.endswith(b"\r\n\r\nok")


def test_a_get_after_a_head_of_a_large_answer_on_the_same_client_succeeds(
    module_router: LiveRouter,
) -> None:
    with module_router.client() as client:
        head = client.head(LARGE)
        following = client.get("/cluster/nodes")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) > 64 * 1024
    assert following.status_code == 200
    assert following.json() is not None
