"""`manage.py alive --pid N`: the health check of a process with no HTTP port (a worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from comfy_router.heartbeat import STALE_AFTER, heartbeat_path
from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.live_router import PROJECT_DIR, LiveRouter
from tests.support.scale_out import RouterProcess, shared_setup


def alive(env: dict[str, str], pid: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "alive", "--pid", str(pid)],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )


def test_a_running_worker_is_alive_and_a_stopped_one_is_not(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    setup = shared_setup(tmp_path, postgres_server, redis_server, "worker_alive")
    setup.migrate()
    env = setup.router_env().environment()
    worker = RouterProcess(setup, "worker", 0).start()
    assert worker.process is not None
    pid = worker.process.pid
    deadline = time.monotonic() + 20
    while not heartbeat_path(pid).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    answer = alive(env, pid)
    assert answer.returncode == 0, answer.stderr
    assert f"Process {pid} alive" in answer.stdout
    assert worker.stop(signal.SIGTERM) == 0
    answer = alive(env, pid)
    assert answer.returncode == 1
    assert f"No heartbeat from process {pid}" in answer.stderr


def test_a_heartbeat_older_than_stale_after_is_not_alive(tmp_path: Path) -> None:
    env = LiveRouter(base_dir=tmp_path).environment()
    pid = 2**22 + 17  # above any pid the kernel gives by default: no process writes this file
    path = heartbeat_path(pid)
    path.touch()
    try:
        old = time.time() - STALE_AFTER - 5
        os.utime(path, (old, old))
        answer = alive(env, pid)
    finally:
        path.unlink()
    assert answer.returncode == 1
    assert "last heartbeat is" in answer.stderr
