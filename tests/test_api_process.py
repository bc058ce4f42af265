"""`daphne comfy_router.asgi:application`: an API process serves HTTP and websockets only; the
background services run in `manage.py worker` (or in `serve`, which runs everything)."""

from __future__ import annotations

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
    finally:
        api.stop()
    assert "Background services" not in api.log()


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
