"""The relay holds back the `executed` of a node that saved files (its files are fetched first,
and named as `/view` serves them), and with it the `progress_state` that follows: ComfyUI sends a
prompt's last `progress_state` after its output node's `executed`, and so does the ending. When
the prompt goes on to other nodes, the held `progress_state` (the latest: each is a snapshot of
every node) passes first, so a client's progress never stalls behind a node that saved files."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from workflows.comfyui.events import decode_message
from workflows.execution import comfy_relay
from workflows.execution.comfy_relay import PromptRelay

NODE_PROMPT = str(uuid.uuid4())


def progress_state(*finished: str) -> dict[str, Any]:
    nodes = {
        node: {"value": 1.0, "max": 1.0, "state": "finished", "node_id": node,
               "prompt_id": NODE_PROMPT, "display_node_id": node, "parent_node_id": None,
               "real_node_id": node}
        for node in finished
    }  # fmt: skip
    return {"type": "progress_state", "data": {"prompt_id": NODE_PROMPT, "nodes": nodes}}


def executed_with_files(node: str) -> dict[str, Any]:
    image = {"filename": f"out_{node}.png", "subfolder": "", "type": "output"}
    output = {"images": [image]}
    return {
        "type": "executed",
        "data": {"node": node, "display_node": node, "output": output, "prompt_id": NODE_PROMPT},
    }


def executing(node: str | None) -> dict[str, Any]:
    data = {"node": node, "display_node": node, "prompt_id": NODE_PROMPT}
    return {"type": "executing", "data": data if node else {"node": None, "prompt_id": NODE_PROMPT}}


@pytest.fixture
def relay_and_heard(monkeypatch: pytest.MonkeyPatch) -> tuple[PromptRelay, list[dict[str, Any]]]:
    heard: list[dict[str, Any]] = []

    async def publish(client_id: str, submitter: Any, *, text: str, prompt_id: str) -> None:
        heard.append(json.loads(text))

    monkeypatch.setattr(comfy_relay, "publish_comfy", publish)
    task = SimpleNamespace(
        comfy_client_id="client", submitted_by_id=None, id=uuid.uuid4(), prompt_id=NODE_PROMPT
    )
    return PromptRelay(task), heard


async def feed(relay: PromptRelay, *messages: dict[str, Any]) -> None:
    for message in messages:
        text = json.dumps(message)
        await relay.forward(text, decode_message(text))


@pytest.mark.asyncio
async def test_the_last_progress_state_waits_for_the_ending_after_the_held_executed(
    relay_and_heard: tuple[PromptRelay, list[dict[str, Any]]],
) -> None:
    relay, heard = relay_and_heard
    await feed(
        relay,
        executing("9"),
        executed_with_files("9"),
        progress_state("9"),
        {"type": "execution_success", "data": {"prompt_id": NODE_PROMPT, "timestamp": 1}},
        executing(None),
    )
    assert [message["type"] for message in heard] == ["executing"]
    held = relay.progress_held
    assert held is not None and held["prompt_id"] == relay.prompt_id  # the router's id
    assert (held["nodes"]["9"]["state"], held["nodes"]["9"]["prompt_id"]) == (
        "finished",
        relay.prompt_id,
    )


@pytest.mark.asyncio
async def test_a_held_progress_state_passes_before_the_next_nodes_messages(
    relay_and_heard: tuple[PromptRelay, list[dict[str, Any]]],
) -> None:
    relay, heard = relay_and_heard
    await feed(
        relay,
        executed_with_files("2"),
        progress_state("1"),
        progress_state("1", "2"),
        executing("3"),
        progress_state("1", "2", "3"),
    )
    assert [message["type"] for message in heard] == [
        "progress_state",
        "executing",
        "progress_state",
    ]
    assert set(heard[0]["data"]["nodes"]) == {"1", "2"}  # the latest of those held
    assert relay.progress_held is None
