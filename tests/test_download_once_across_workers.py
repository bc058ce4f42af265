"""A URL wanted by many tasks at once is downloaded once even when two workers prepare them: the
cache entry's row, locked in PostgreSQL, is the download lock."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.file_server import FileServer, file_server  # noqa: F401  (fixture)
from tests.support.scale_out import RouterProcess, shared_setup
from tests.workflow_params import body, custom, sd15_params

TASKS = 8


def test_two_workers_download_a_shared_checkpoint_once(
    tmp_path: Path,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    file_server: FileServer,  # noqa: F811
) -> None:
    setup = shared_setup(tmp_path, postgres_server, redis_server, "download_once")
    setup.migrate()
    workers = [RouterProcess(setup, "worker", i) for i in range(2)]
    processes = [RouterProcess(setup, "api", 0), *workers]
    url = file_server.url("/slow/shared.safetensors?size=1000000&chunk=65536&delay=0.05")
    params = sd15_params(checkpoint=custom(url))
    with FakeComfyUIThread(setup.router_env().root_dir) as node:
        try:
            for process in processes:
                process.start()
            api = processes[0]
            with api.client() as client:
                assert client.post("/cluster/nodes", json={"url": node.url}).status_code == 201

            def submit(seed: int) -> str:
                with api.client() as client:
                    response = client.post("/workflow", json=body("SD15", {**params, "seed": seed}))
                assert response.status_code == 202, response.text
                return str(response.json()["id"])

            with ThreadPoolExecutor(max_workers=TASKS) as pool:
                task_ids = list(pool.map(submit, range(TASKS)))
            deadline = time.monotonic() + 120
            with api.client() as client:
                while True:
                    statuses = [client.get(f"/workflow/{t}").json()["status"] for t in task_ids]
                    if all(s in ("done", "error", "cancelled") for s in statuses):
                        break
                    assert time.monotonic() < deadline, statuses
                    time.sleep(0.3)
        finally:
            for process in processes:
                process.stop()
    assert statuses == ["done"] * TASKS
    assert file_server.hits["/slow/shared.safetensors"] == 1
    assert len(node.log.prompts) == TASKS
