"""Scaled out, a ComfyUI script client connected to an API process hears its prompts run by a
worker (through the Redis channel layer) as on one ComfyUI: the relayed messages, the files'
`executed` and the end marker, and it can interrupt a prompt running in another process."""

from __future__ import annotations

import uuid
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
from tests.support.cluster import sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, executing, follow, frames_until
from tests.support.comfyui_traces import assert_shaped_like_comfyui, kinds, require_traces
from tests.support.scale_out import RouterProcess, one_api_one_worker_one_node


@pytest.fixture
def api(
    tmp_path: Path,
    postgres_server: PostgresServer,  # noqa: F811
    redis_server: RedisServer,  # noqa: F811
) -> Iterator[tuple[RouterProcess, FakeComfyUIThread]]:
    require_traces()
    database = f"comfyui_client_{uuid.uuid4().hex}"
    with one_api_one_worker_one_node(
        tmp_path / "shared", postgres_server, redis_server, database
    ) as started:
        yield started


def test_a_prompt_run_by_a_worker_reaches_its_client_on_an_api_process(
    api: tuple[RouterProcess, FakeComfyUIThread],
) -> None:
    process, node = api
    client = ScriptClient(process.url)
    with client.websocket() as socket:
        prompt_id = client.queue_prompt(tiny_graph(seed=1, save="SaveImage"))["prompt_id"]
        frames = follow(socket, prompt_id, timeout=60)
    messages = [frame for frame in frames if not isinstance(frame, bytes)]
    for message in messages:
        assert_shaped_like_comfyui(message)
    sequence = kinds(frames)
    for kind in ("execution_start", "execution_cached", "executing", "executed"):
        assert kind in sequence
    assert sequence[-3:] == ["execution_success", "status", "executing"]
    entry = client.history(prompt_id)[prompt_id]
    assert entry["status"]["status_str"] == "success" and list(entry["outputs"]) == ["2"]


def test_an_interrupt_on_an_api_process_stops_a_prompt_a_worker_runs(
    api: tuple[RouterProcess, FakeComfyUIThread],
) -> None:
    process, node = api
    node.step_delay = 3600.0  # a sampler step lasts until the prompt is interrupted
    client = ScriptClient(process.url)
    with client.websocket() as socket:
        prompt_id = client.queue_prompt(sampler_graph(seed=2))["prompt_id"]
        frames_until(socket, executing(prompt_id, "3"), timeout=60)
        client.interrupt(prompt_id)
        frames = follow(socket, prompt_id, timeout=60)
    assert kinds(frames)[-3:] == ["execution_interrupted", "status", "executing"]
    assert node.log.prompts[-1].outcome == "interrupted"
