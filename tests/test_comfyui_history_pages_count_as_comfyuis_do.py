"""`GET /history?max_items&offset` pages as ComfyUI 0.8.0's `PromptQueue.get_history` does:
oldest first; `offset` counts from the oldest; without one (or with a negative one) the answer is
the newest `max_items`. Positions past the history are an empty page, whatever their size."""

from __future__ import annotations

import pytest

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow

PROMPTS = 4


@pytest.fixture
def finished(cluster: Cluster) -> tuple[ScriptClient, list[str]]:
    client = ScriptClient(cluster.router.url)
    prompt_ids = []
    with client.websocket() as socket:
        for seed in range(PROMPTS):
            prompt_ids.append(client.queue_prompt(tiny_graph(seed=seed))["prompt_id"])
            follow(socket, prompt_ids[-1])
    return client, prompt_ids


def page(client: ScriptClient, **query: str) -> list[str]:
    return list(client.request("GET", "/history", **query))


def test_the_whole_history_comes_oldest_first(finished: tuple[ScriptClient, list[str]]) -> None:
    client, prompt_ids = finished
    assert page(client) == prompt_ids


def test_an_offset_counts_from_the_oldest(finished: tuple[ScriptClient, list[str]]) -> None:
    client, prompt_ids = finished
    assert page(client, max_items="2", offset="0") == prompt_ids[:2]
    assert page(client, max_items="2", offset="1") == prompt_ids[1:3]
    assert page(client, offset="3") == prompt_ids[3:]


def test_without_an_offset_max_items_are_the_newest(
    finished: tuple[ScriptClient, list[str]],
) -> None:
    client, prompt_ids = finished
    assert page(client, max_items="2") == prompt_ids[2:]
    assert page(client, max_items="2", offset="-1") == prompt_ids[2:]
    assert page(client, max_items="0") == []
    assert page(client, max_items="-3") == []


@pytest.mark.parametrize("offset", ["4", "9223372036854775807", "9223372036854775808", "9" * 30])
def test_an_offset_past_the_history_is_an_empty_page(
    finished: tuple[ScriptClient, list[str]], offset: str
) -> None:
    client, _ = finished
    assert page(client, offset=offset) == []
    assert page(client, max_items="5", offset=offset) == []
