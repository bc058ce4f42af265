"""The ComfyUI client against the fake over loopback: outputs, previews and progress."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.comfyui_helpers import run_prompt
from tests.fake_comfyui import FakeComfyUI
from tests.fake_comfyui.fixtures import fake_comfyui  # noqa: F401
from tests.fake_comfyui.graphs import empty_to_save, empty_to_websocket, sd15_txt2img
from workflows.comfyui.client import ComfyUIClient, Progress, PromptTracker

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("preview_metadata", [True, False])
async def test_it_collects_save_image_websocket_frames_as_outputs(
    fake_comfyui: FakeComfyUI, preview_metadata: bool
) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(
            client, empty_to_websocket(48, 32, batch_size=2), preview_metadata=preview_metadata
        )
    assert tracker.state == "success" and tracker.finished and tracker.progress == 1.0
    assert [image.content_type for image in tracker.websocket_images] == ["image/png", "image/png"]
    assert Image.open(io.BytesIO(tracker.websocket_images[0].data)).size == (48, 32)
    assert tracker.latest_preview is None
    assert tracker.outputs == []


async def test_it_lists_saved_images_and_downloads_them_through_view(
    fake_comfyui: FakeComfyUI, tmp_path: Path
) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(client, empty_to_save("router", 40, 30, batch_size=2))
        assert [(o.filename, o.subfolder, o.type, o.kind) for o in tracker.outputs] == [
            ("router_00001_.png", "", "output", "images"),
            ("router_00002_.png", "", "output", "images"),
        ]
        history = await client.history(tracker.prompt_id)
        assert history is not None and history["status"]["status_str"] == "success"
        settled = PromptTracker(tracker.graph, tracker.prompt_id)
        settled.apply_history(history)
        assert settled.outputs == tracker.outputs and settled.state == "success"
        dest = tmp_path / "out.png"
        size = await client.download_view("router_00001_.png", "", "output", dest)
    assert size == dest.stat().st_size > 0
    assert Image.open(dest).size == (40, 30)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("preview_metadata", [True, False])
async def test_it_keeps_the_latest_sampler_preview(
    fake_comfyui: FakeComfyUI, preview_metadata: bool
) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(
            client,
            sd15_txt2img(steps=3),
            extra_data={"preview_method": "auto"},
            preview_metadata=preview_metadata,
        )
    assert tracker.state == "success"
    preview = tracker.latest_preview
    assert preview is not None and preview.content_type == "image/jpeg" and preview.node_id == "3"
    assert Image.open(io.BytesIO(preview.data)).format == "JPEG"
    assert tracker.websocket_images == []


async def test_without_a_preview_method_there_are_no_previews(fake_comfyui: FakeComfyUI) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(client, sd15_txt2img(steps=3))
    assert tracker.state == "success" and tracker.latest_preview is None


async def test_a_sampler_preview_is_not_mistaken_for_a_websocket_output(
    fake_comfyui: FakeComfyUI,
) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(
            client,
            sd15_txt2img(steps=2, save="SaveImageWebsocket"),
            extra_data={"preview_method": "auto"},
            preview_metadata=False,
        )
    assert (
        tracker.latest_preview is not None and tracker.latest_preview.content_type == "image/jpeg"
    )
    assert [image.content_type for image in tracker.websocket_images] == ["image/png"]


async def test_progress_covers_the_whole_graph_and_never_goes_back(
    fake_comfyui: FakeComfyUI,
) -> None:
    graph = sd15_txt2img(steps=4)
    seen: list[float] = []
    async with ComfyUIClient(fake_comfyui.url) as client:
        events: list = []
        tracker = await run_prompt(client, graph, events=events)
        replay = PromptTracker(graph, tracker.prompt_id)
        at_first_step = None
        for event in events:
            replay.feed(event)
            seen.append(replay.progress)
            if isinstance(event, Progress) and event.value == 1 and at_first_step is None:
                at_first_step = replay.progress
    assert seen == sorted(seen) and seen[-1] == 1.0
    # 6 plain nodes weigh 1 each, the sampler its 4 steps: before the first step 4 nodes are done.
    assert at_first_step == pytest.approx((4 + 1) / 10)


async def test_cached_nodes_count_as_done(fake_comfyui: FakeComfyUI) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        await run_prompt(client, sd15_txt2img(seed=1))
        events: list = []
        tracker = await run_prompt(client, sd15_txt2img(seed=2), events=events)
    assert tracker.cached == ["4", "6", "7", "5"]
    replay = PromptTracker(tracker.graph, tracker.prompt_id)
    for event in events:
        replay.feed(event)
        if replay.cached:
            break
    assert replay.progress == pytest.approx(4 / 8)
