"""`serve` bounds the connections open at once (`--max-connections`): past it a new one is closed
as soon as it is accepted and the log says so, instead of the process running out of file
descriptors. And a request's headers must arrive within `--headers-timeout` of its first byte:
a client trickling a header line now and then gets a 408 and is closed."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_router import LiveRouter

LIMIT = 8


@pytest.fixture
def router(tmp_path: Path) -> Iterator[LiveRouter]:
    command = ("manage.py", "serve", "--max-connections", str(LIMIT), "--headers-timeout", "1")
    started = LiveRouter(base_dir=tmp_path / "router", command=command).start()
    yield started
    started.stop()


def connect(router: LiveRouter) -> socket.socket:
    return socket.create_connection(("127.0.0.1", router.port), timeout=5)


def closed_at_once(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_past_the_bound_a_connection_is_closed_at_once_and_the_log_says_so(
    router: LiveRouter,
) -> None:
    held = [connect(router) for _ in range(LIMIT)]
    time.sleep(0.3)  # accepted by the server
    refused = connect(router)
    assert closed_at_once(refused)
    assert "as many as `serve --max-connections` allows" in router.log()

    for sock in held:
        sock.close()
    time.sleep(0.3)
    assert httpx.get(router.url + "/health_check", timeout=5).status_code == 200


def test_headers_trickled_slower_than_the_deadline_get_a_408(router: LiveRouter) -> None:
    sock = connect(router)
    sock.sendall(b"GET /health_check HTTP/1.1\r\nHost: router\r\n")
    started = time.monotonic()
    answer = b""
    sock.settimeout(0.3)
    while time.monotonic() - started < 5:
        try:
            sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            break
        try:
            chunk = sock.recv(1024)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 3


def test_a_kept_alive_connection_gets_a_deadline_for_each_request_not_one_for_all(
    router: LiveRouter,
) -> None:
    with httpx.Client(base_url=router.url, timeout=5) as client:
        assert client.get("/health_check").status_code == 200
        time.sleep(1.5)  # idle between requests: no headers are on their way
        assert client.get("/health_check").status_code == 200
