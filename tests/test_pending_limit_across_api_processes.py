"""The pending limit holds however many API processes take submissions at once: PostgreSQL
serialises the count-then-insert with an advisory lock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.scale_out import RouterProcess, shared_setup

LIMIT = 10
SUBMISSIONS = 40


def test_two_api_processes_accept_no_more_than_the_pending_limit_together(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    setup = shared_setup(
        tmp_path, postgres_server, redis_server, "pending_limit",
        COMFY_ROUTER__PENDING_LIMIT=str(LIMIT),
    )
    setup.migrate()
    apis = [RouterProcess(setup, "api", i).start() for i in range(2)]  # no worker: nothing runs
    try:

        def submit(index: int) -> int:
            with apis[index % 2].client() as client:
                return client.post("/workflow", json=comfyui_body(tiny_graph(index))).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(submit, range(SUBMISSIONS)))
        with apis[1].client() as client:
            waiting = client.get("/workflow", params={"status": "pending", "limit": 1}).json()
    finally:
        for api in apis:
            api.stop()
    assert statuses.count(202) == LIMIT
    assert statuses.count(429) == SUBMISSIONS - LIMIT
    assert waiting["count"] == LIMIT
