"""`manage.py worker`: the background services and task executors without an HTTP server, for
scale-out beside Daphne API processes on PostgreSQL and Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.live_router import PROJECT_DIR, LiveRouter
from tests.support.scale_out import RouterProcess, shared_setup


def test_a_worker_runs_the_background_services_and_exits_0_on_sigterm(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    setup = shared_setup(tmp_path, postgres_server, redis_server, "worker_command")
    setup.migrate()
    worker = RouterProcess(setup, "worker", 0).start()
    assert worker.stop(signal.SIGTERM) == 0
    log = worker.log()
    for service in ("nodes.health.run", "workflows.dispatcher.run", "worker(comfy-router-execute)"):
        assert service in log
    assert "Background services stopped" in log
    assert "Traceback" not in log


def test_a_worker_refuses_the_in_memory_channel_layer_in_one_line(tmp_path: Path) -> None:
    env = LiveRouter(base_dir=tmp_path).environment()
    result = subprocess.run(
        [sys.executable, "manage.py", "worker"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "COMFY_ROUTER__CHANNEL_LAYER_URL=redis://" in result.stderr
