"""`manage.py worker`: the background services and task executors without an HTTP server, for
scale-out beside Daphne API processes on PostgreSQL and Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.cluster import comfyui_body, sampler_graph
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
    for service in ("nodes.health.run", "workflows.dispatch.loop.run", "worker(comfy-router-execute)"):
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


def test_a_worker_stopped_with_sigterm_hands_its_running_task_to_another_at_once(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    setup = shared_setup(
        tmp_path, postgres_server, redis_server, "worker_hand_over",
        COMFY_ROUTER__TASK__LEASE="600",  # only the hand-over, not the lease running out, can help
    )
    setup.migrate()
    root = setup.router_env().root_dir
    (root / "models" / "checkpoints").mkdir(parents=True)
    (root / "models" / "checkpoints" / "tiny.safetensors").write_bytes(b"weights")
    api = RouterProcess(setup, "api", 0).start()
    first = RouterProcess(setup, "worker", 0).start()
    second = RouterProcess(setup, "worker", 1)
    with FakeComfyUIThread(root, step_delay=0.2) as node:
        try:
            with api.client() as client:
                assert client.post("/cluster/nodes", json={"url": node.url}).status_code == 201
                body = comfyui_body(sampler_graph(seed=7, steps=30))
                task_id = client.post("/workflow", json=body).json()["id"]
                while not node.log.prompts or node.log.prompts[0].started is None:
                    time.sleep(0.05)
                second.start()
                attach_by = time.monotonic() + 60
                assert first.stop(signal.SIGTERM) == 0
                # Speed the node up only once the second worker listens again: were the prompt to
                # end unheard, its websocket images would be lost and it would rightly run again.
                while not any(ws.closed is None for ws in node.log.websockets[1:]):
                    assert time.monotonic() < attach_by, second.log()
                    time.sleep(0.05)
                node.step_delay = 0.01
                deadline = time.monotonic() + 120
                while client.get(f"/workflow/{task_id}").json()["status"] == "running":
                    assert time.monotonic() < deadline, second.log()
                    time.sleep(0.2)
                task = client.get(f"/workflow/{task_id}").json()
        finally:
            second.stop()
            api.stop()
    assert task["status"] == "done", task
    assert len(node.log.prompts) == 1  # followed again by the second worker, not run twice
