from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from tests.support.live_router import PROJECT_DIR, LiveRouter


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_health_check_over_tcp_and_exits_0_on_signal(
    live_router: LiveRouter, sig: int
) -> None:
    response = httpx.get(live_router.url + "/health_check")
    assert response.status_code == 200
    assert response.text == "ok"
    assert live_router.stop(sig) == 0
    assert "Background services stopped" in live_router.log()


def test_serve_migrates_the_database_at_start(live_router: LiveRouter) -> None:
    assert (live_router.data_dir / "router.sqlite3").exists()
    with live_router.client() as client:
        response = client.get("/admin/")
    assert response.status_code == 200  # the admin needs the auth and session tables


def test_serve_exits_non_zero_when_the_port_is_taken(live_router: LiveRouter, tmp_path) -> None:
    second = LiveRouter(base_dir=tmp_path / "second", port=live_router.port)
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=PROJECT_DIR,
        env=second.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"COMFY_ROUTER__PORT={live_router.port}: cannot listen on 127.0.0.1:" in result.stderr
