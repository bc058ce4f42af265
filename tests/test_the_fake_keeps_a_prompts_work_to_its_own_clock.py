"""The fake's node_delay and step_delay are a prompt's work, kept to the prompt's own clock: the
fake's time over its messages, or a late wake-up in a busy process, does not stretch a job (on a
GPU a 200 ms job lasts 200 ms; ComfyUI sends its messages from another thread meanwhile). The
benches charge every millisecond a job overruns to the router."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.comfyui_helpers import run_prompt
from tests.fake_comfyui import FakeComfyUI
from tests.fake_comfyui.fixtures import fake_comfyui  # noqa: F401
from tests.fake_comfyui.graphs import empty_to_save, sd15_txt2img
from workflows.comfyui.client import ComfyUIClient

STALL = 0.15  # seconds the fake's loop is held at each `executing` message


@pytest.fixture
def stalling(fake_comfyui: FakeComfyUI, monkeypatch: pytest.MonkeyPatch) -> FakeComfyUI:
    """The fake, its loop blocked for STALL whenever it announces a node, as a busy process
    would hold it."""
    send_json = fake_comfyui.send_json

    async def slow_send_json(event: str, data: dict[str, Any], sid: str | None) -> None:
        if event == "executing" and data.get("node") is not None:
            time.sleep(STALL)
        await send_json(event, data, sid)

    monkeypatch.setattr(fake_comfyui, "send_json", slow_send_json)
    return fake_comfyui


async def duration(fake: FakeComfyUI, graph: dict[str, Any]) -> float:
    async with ComfyUIClient(fake.url) as client:
        tracker = await run_prompt(client, graph)
    assert tracker.state == "success"
    record = fake.log.prompt(tracker.prompt_id)
    return record.ended - record.started  # type: ignore[operator]


async def test_the_fakes_own_stalls_do_not_stretch_a_prompt_of_node_delays(
    stalling: FakeComfyUI,
) -> None:
    stalling.node_delay = 0.2  # two nodes: 0.4 s of work; two stalls of 0.15 s inside it
    took = await duration(stalling, empty_to_save(color=1))
    assert 0.4 <= took < 0.4 + STALL  # stretched, it would last 0.7 s


async def test_a_sampler_keeps_its_steps_to_the_prompts_clock(stalling: FakeComfyUI) -> None:
    stalling.step_delay = 0.05  # 10 steps: 0.5 s of sampling; 7 nodes announced, 1.05 s stalled
    took = await duration(stalling, sd15_txt2img(steps=10))
    assert took >= 0.5
    assert took < 7 * STALL + 0.5  # the stalls overlap the steps' time rather than add to it
