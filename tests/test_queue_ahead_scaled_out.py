"""Scaled out (an API process and two workers on PostgreSQL + Redis), queue-ahead keeps its
guarantees: a busy node gets its next prompt while it runs one, and a task queued ahead moves to
a node that comes online, whichever worker runs it (the request reaches it through the
database), never running twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.cluster import FINISHED, comfyui_body, tiny_graph
from tests.support.queue_ahead import prompts_of, wait_until
from tests.support.scale_out import RouterProcess, SharedSetup, shared_setup


@pytest.fixture
def setup(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> SharedSetup:
    shared = shared_setup(tmp_path / "shared", postgres_server, redis_server, "queue_ahead")
    shared.migrate()
    return shared


@pytest.fixture
def processes(setup: SharedSetup) -> Iterator[list[RouterProcess]]:
    started = [RouterProcess(setup, "api", 0)] + [RouterProcess(setup, "worker", i) for i in range(2)]
    for process in started:
        process.start()
    yield started
    for process in started:
        process.stop(signal.SIGKILL)


@pytest.fixture
def fakes(setup: SharedSetup) -> Iterator[list[FakeComfyUIThread]]:
    root = setup.router_env().root_dir
    made = [FakeComfyUIThread(root, node_delay=2.0), FakeComfyUIThread(root, node_delay=0.01)]
    yield made
    for fake in made:
        fake.close()


def test_a_task_queued_ahead_moves_to_a_node_that_comes_online(
    processes: list[RouterProcess], fakes: list[FakeComfyUIThread]
) -> None:
    api = processes[0]
    slow, fast = fakes
    with api.client() as client:
        assert client.post("/cluster/nodes", json={"url": slow.url}).status_code in (200, 201)
        first = client.post("/workflow", json=comfyui_body(tiny_graph(1))).json()["id"]
        wait_until(lambda: any(p.started for p in prompts_of(slow, 1)), "the long job runs")
        second = client.post("/workflow", json=comfyui_body(tiny_graph(2))).json()["id"]
        wait_until(lambda: prompts_of(slow, 2), "the second is queued ahead on the busy node")

        assert client.post("/cluster/nodes", json={"url": fast.url}).status_code in (200, 201)

        deadline = time.monotonic() + 30
        while client.get(f"/workflow/{second}").json()["status"] not in FINISHED:
            assert time.monotonic() < deadline, "the queued task never ended"
            time.sleep(0.1)
        moved = client.get(f"/workflow/{second}").json()
        assert (moved["status"], moved["node"], moved["attempts"]) == ("done", fast.url, 1)
        assert client.get(f"/workflow/{first}").json()["status"] == "running"

    [taken_back] = prompts_of(slow, 2)
    assert (taken_back.outcome, taken_back.started) == ("deleted", None)
    assert [p.outcome for p in prompts_of(fast, 2)] == ["success"]
    wait_until(lambda: [p.outcome for p in prompts_of(slow, 1)] == ["success"], "the job ends", 30)
