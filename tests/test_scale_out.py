"""Scale-out: two Daphne API processes and two workers on PostgreSQL + Redis run 100 tasks on five
fake ComfyUI nodes, one worker SIGKILLed halfway, watchers on the API process that did not take
the task; no task is lost or run twice and no node ever holds more than one prompt running and
one queued ahead (NODE__QUEUE_AHEAD)."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.cluster import FINISHED, comfyui_body, sampler_graph
from tests.support.scale_out import RouterProcess, SharedSetup, shared_setup

TASKS = 100
NODES = 5
WATCHED_EVERY = 7
AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


@pytest.fixture
def setup(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> SharedSetup:
    shared = shared_setup(
        tmp_path / "shared", postgres_server, redis_server, "scale_out",
        COMFY_ROUTER__TASK__LEASE="3",
        COMFY_ROUTER__PENDING_LIMIT=str(TASKS),
        COMFY_ROUTER__HISTORY_LIMIT=str(TASKS),
        COMFY_ROUTER__LOG_LEVEL="INFO",
    )
    shared.migrate()
    return shared


@pytest.fixture
def processes(setup: SharedSetup) -> Iterator[list[RouterProcess]]:
    started: list[RouterProcess] = []
    yield started
    for process in started:
        process.stop(signal.SIGKILL)


@pytest.fixture
def nodes(setup: SharedSetup) -> Iterator[list[FakeComfyUIThread]]:
    checkpoints = setup.router_env().root_dir / "models" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / "tiny.safetensors").write_bytes(b"weights")
    fakes = [FakeComfyUIThread(setup.router_env().root_dir, step_delay=0.03) for _ in range(NODES)]
    yield fakes
    for fake in fakes:
        fake.close()


def saved_graph(seed: int) -> dict[str, Any]:
    """Outputs saved on the node, so a task taken over after its prompt ended is settled from
    /history rather than run again."""
    graph = sampler_graph(seed=seed, steps=4)
    graph["9"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["8", 0], "filename_prefix": f"scale_{seed}"},
    }
    return graph


def watch(api: RouterProcess, task_id: str, events: list[dict[str, Any]]) -> None:
    with connect(f"{api.ws_url}/ws/workflow/{task_id}", additional_headers=AUTH,
                 open_timeout=30) as socket:
        while True:
            event = json.loads(socket.recv(timeout=90))
            events.append(event)
            if event["type"] == "finished":
                return


def wait_until_finished(api: RouterProcess, task_ids: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with api.client() as client:
        while True:
            tasks = {t: client.get(f"/workflow/{t}").json() for t in task_ids}
            waiting = [t for t, task in tasks.items() if task["status"] not in FINISHED]
            if not waiting or time.monotonic() > deadline:
                return tasks
            time.sleep(0.5)


def done_count(api: RouterProcess) -> int:
    with api.client() as client:
        return int(client.get("/workflow", params={"status": "done", "limit": 1}).json()["count"])


def test_two_apis_and_two_workers_run_100_tasks_through_a_worker_kill(
    setup: SharedSetup, processes: list[RouterProcess], nodes: list[FakeComfyUIThread]
) -> None:
    apis = [RouterProcess(setup, "api", i) for i in range(2)]
    workers = [RouterProcess(setup, "worker", i) for i in range(2)]
    processes.extend(apis + workers)
    for process in processes:
        process.start()
    with apis[0].client() as client:
        for fake in nodes:
            response = client.post("/cluster/nodes", json={"url": fake.url})
            assert response.status_code in (200, 201), response.text

    def submit(index: int) -> str:
        with apis[index % 2].client() as client:
            response = client.post("/workflow", json=comfyui_body(saved_graph(index)))
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    watched: dict[str, list[dict[str, Any]]] = {}
    queued_long: set[str] = set()  # still waiting when watched: every event after the first is live
    watchers: list[threading.Thread] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        task_ids = list(pool.map(submit, range(TASKS)))
    for index, task_id in enumerate(task_ids):
        if index % WATCHED_EVERY == 0:
            events = watched.setdefault(task_id, [])
            if index >= TASKS // 2:
                queued_long.add(task_id)
            other_api = apis[(index + 1) % 2]
            thread = threading.Thread(target=watch, args=(other_api, task_id, events), daemon=True)
            thread.start()
            watchers.append(thread)

    while done_count(apis[0]) < TASKS // 2:
        time.sleep(0.2)
    workers[0].stop(signal.SIGKILL)

    tasks = wait_until_finished(apis[1], task_ids, timeout=120)
    assert [task["status"] for task in tasks.values()] == ["done"] * TASKS, [
        (t, task["status"], task.get("error"))
        for t, task in tasks.items()
        if task["status"] != "done"
    ]
    with apis[0].client() as client:
        assert all(client.get(f"/workflow/{t}").json()["status"] == "done" for t in task_ids)

    prompts = [prompt for fake in nodes for prompt in fake.log.prompts]
    ran = sorted(prompt.prompt_id for prompt in prompts)
    assert len(ran) == len(set(ran)) == TASKS, "a prompt was submitted twice or one was lost"
    for fake in nodes:
        assert fake.log.max_active <= 2, fake.url  # one running, one queued ahead
        runs = sorted((p.started, p.ended) for p in fake.log.prompts if p.started is not None)
        assert all(earlier[1] <= later[0] for earlier, later in zip(runs, runs[1:])), fake.url

    for thread in watchers:
        thread.join(timeout=60)
    for task_id, events in watched.items():
        assert events and events[-1]["type"] == "finished", (task_id, events)
        assert events[-1]["status"] == "done"
    # Tasks still waiting when watched show their progress and previews live, through Redis from
    # whichever worker runs them, except those running on the killed worker: one whose prompt
    # ended before the takeover is settled from the node's history, with no live progress.
    live = [t for t in queued_long if {"progress", "preview"} <= {e["type"] for e in watched[t]}]
    assert len(live) >= len(queued_long) - NODES > 0
