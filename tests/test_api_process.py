"""`manage.py serve --api-only`: an API process serves HTTP and websockets only, with `serve`'s
patches to Daphne; the background services run in `manage.py worker` (or in `serve`, which runs
everything)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.live_router import PROJECT_DIR, LiveRouter
from tests.support.scale_out import RouterProcess, shared_setup


def test_an_api_process_serves_the_api_and_starts_no_background_service(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    setup = shared_setup(tmp_path, postgres_server, redis_server, "api_process")
    setup.migrate()
    api = RouterProcess(setup, "api", 0).start()
    try:
        assert httpx.get(api.url + "/health_check").text == "ok"
        with api.client() as client:
            assert client.get("/cluster/nodes").status_code == 200
        assert huge_upload_answer(api.port).startswith(b"HTTP/1.1 413 ")
    finally:
        api.stop()
    assert "Background services" not in api.log()


def huge_upload_answer(port: int) -> bytes:
    """The answer to a 10 GiB upload's headers, sent without its body."""
    head = (
        "POST /workflow HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536)


def test_an_api_process_needs_a_shared_channel_layer(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", "--api-only"],
        cwd=PROJECT_DIR, env=LiveRouter(base_dir=tmp_path).environment(),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "An API process needs a channel layer shared with the workers" in result.stderr


def test_a_configuration_error_is_one_line_on_stderr(tmp_path: Path) -> None:
    env = LiveRouter(base_dir=tmp_path).environment()
    env["COMFY_ROUTER__PENDING_LIMIT"] = "many"
    result = subprocess.run(
        [sys.executable, "-m", "daphne", "comfy_router.asgi:application"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "comfy-router: configuration error: Unexpected value "
        "COMFY_ROUTER__PENDING_LIMIT='many': expected an integer >= 1\n"
    )
