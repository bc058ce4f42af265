"""The fake ComfyUI's own behaviour: knobs, log, files and the background-thread helper."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.comfyui_helpers import run_prompt
from tests.fake_comfyui import FakeComfyUI, FakeComfyUIThread
from tests.fake_comfyui.fixtures import (
    fake_comfyui,
    fake_comfyui_thread,
    install_model,
)  # noqa: F401
from tests.fake_comfyui.graphs import empty_to_save, sd15_txt2img
from workflows.comfyui.client import ComfyUIClient, PromptRejected


async def test_the_log_counts_prompts_queued_or_running_at_once(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.node_delay = 0.05
    async with ComfyUIClient(fake_comfyui.url) as client:
        await run_prompt(client, empty_to_save(color=1))
        assert fake_comfyui.log.max_active == 1
        ids = [await client.submit_prompt(empty_to_save(color=c), "c") for c in (2, 3)]
        while fake_comfyui.log.active:
            await asyncio.sleep(0.02)
    assert fake_comfyui.log.max_active == 2
    first, second = (fake_comfyui.log.prompt(i) for i in ids)
    assert first.submitted <= first.started < first.ended <= second.started < second.ended  # type: ignore[operator]
    assert (first.outcome, first.client_id, first.graph) == ("success", "c", empty_to_save(color=2))


async def test_loading_a_different_checkpoint_costs_load_time(fake_comfyui: FakeComfyUI) -> None:
    install_model(fake_comfyui.root_dir, "checkpoints", "other.safetensors")
    fake_comfyui.load_time = 0.5

    async def duration(graph: dict) -> float:
        async with ComfyUIClient(fake_comfyui.url) as client:
            tracker = await run_prompt(client, graph)
        record = fake_comfyui.log.prompt(tracker.prompt_id)
        return record.ended - record.started  # type: ignore[operator]

    assert await duration(sd15_txt2img(seed=1)) >= 0.5  # cold
    assert await duration(sd15_txt2img(seed=2)) < 0.5  # warm: loader cached
    assert await duration(sd15_txt2img(seed=3, ckpt_name="other.safetensors")) >= 0.5
    assert await duration(sd15_txt2img(seed=4, ckpt_name="other.safetensors", width=128)) < 0.5


async def test_loader_files_must_be_in_the_root_dir(
    fake_comfyui: FakeComfyUI, tmp_path: Path
) -> None:
    graph = sd15_txt2img(ckpt_name="linked.safetensors")
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(PromptRejected) as rejected:
            await client.submit_prompt(graph, "c")
        assert (
            rejected.value.node_errors["4"]["errors"][0]["details"]
            == "ckpt_name: 'linked.safetensors' not in ['sd15_random.safetensors']"
        )
        cached = tmp_path / "cache-file"
        cached.write_bytes(b"weights")
        (fake_comfyui.root_dir / "models" / "checkpoints" / "linked.safetensors").symlink_to(cached)
        tracker = await run_prompt(client, graph)
    assert tracker.state == "success"


async def test_load_image_needs_the_file_in_input(fake_comfyui: FakeComfyUI) -> None:
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(PromptRejected, match="Invalid image file: in.png"):
            await client.submit_prompt(graph, "c")
        (fake_comfyui.root_dir / "input" / "in.png").write_bytes(b"not an image")
        tracker = await run_prompt(client, graph)
    assert tracker.state == "error" and tracker.error is not None
    assert tracker.error.exception_type == "PIL.UnidentifiedImageError"


async def test_an_identical_graph_is_served_from_cache(fake_comfyui: FakeComfyUI) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        first = await run_prompt(client, empty_to_save("same"))
        again = await run_prompt(client, empty_to_save("same"))
    assert again.cached == ["1", "2"] and again.state == "success"
    assert again.outputs == first.outputs
    assert sorted(p.name for p in (fake_comfyui.root_dir / "output").iterdir()) == [
        "same_00001_.png"
    ]


async def test_preview_image_saves_into_temp(fake_comfyui: FakeComfyUI) -> None:
    graph = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(client, graph)
    [output] = tracker.outputs
    assert output.type == "temp" and (fake_comfyui.root_dir / "temp" / output.filename).is_file()


async def test_the_knobs_can_change_while_a_prompt_runs(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.step_delay = 0.5
    async with ComfyUIClient(fake_comfyui.url) as client:
        running = asyncio.create_task(run_prompt(client, sd15_txt2img(steps=4)))
        await asyncio.sleep(0.1)
        fake_comfyui.step_delay = 0
        fake_comfyui.fail_at_node = "9"
        tracker = await asyncio.wait_for(running, 3)
    assert tracker.state == "error" and tracker.error is not None and tracker.error.node_id == "9"


def test_the_thread_helper_dies_and_restarts_on_the_same_port(
    fake_comfyui_thread: FakeComfyUIThread,
) -> None:
    fake = fake_comfyui_thread
    url = fake.url
    assert httpx.get(f"{url}/system_stats").status_code == 200
    fake.system_stats_status = 503
    assert fake.server.system_stats_status == 503
    assert httpx.get(f"{url}/api/system_stats").status_code == 503
    posted = httpx.post(f"{url}/prompt", json={"prompt": empty_to_save(), "client_id": "c"}).json()
    fake.die()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/system_stats")
    fake.restart()
    assert fake.url == url
    assert httpx.get(f"{url}/system_stats").status_code == 503  # knobs survive a restart
    assert httpx.get(f"{url}/history/{posted['prompt_id']}").json() in (
        {},
    )  # a fresh process forgets
    assert [r.prompt_id for r in fake.log.prompts] == [posted["prompt_id"]]  # the log does not


def test_the_thread_helper_runs_prompts_for_sync_tests(
    fake_comfyui_thread: FakeComfyUIThread,
) -> None:
    fake = fake_comfyui_thread
    fake.node_delay = 0.01
    prompt_id = httpx.post(
        f"{fake.url}/prompt", json={"prompt": empty_to_save(), "client_id": "c"}
    ).json()["prompt_id"]
    deadline = time.monotonic() + 5
    while not httpx.get(f"{fake.url}/history/{prompt_id}").json() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.log.prompt(prompt_id).outcome == "success"
    with pytest.raises(AttributeError):
        fake.not_a_knob = 1


async def test_a_browser_origin_is_refused(fake_comfyui: FakeComfyUI) -> None:
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{fake_comfyui.url}/prompt",
            json={"prompt": empty_to_save()},
            headers={"Origin": "http://evil.example"},
        )
        allowed = await http.post(
            f"{fake_comfyui.url}/prompt",
            json={"prompt": empty_to_save()},
            headers={"Origin": fake_comfyui.url},
        )
    assert (refused.status_code, allowed.status_code) == (403, 200)


async def test_uploads_land_in_input_without_duplicating_identical_files(
    fake_comfyui: FakeComfyUI,
) -> None:
    async with httpx.AsyncClient() as http:
        answers = [
            (
                await http.post(
                    f"{fake_comfyui.url}/upload/image",
                    data={"subfolder": "up", "overwrite": "false"},
                    files={"image": ("a.png", content, "image/png")},
                )
            ).json()
            for content in (b"one", b"one", b"two")
        ]
    assert [a["name"] for a in answers] == ["a.png", "a.png", "a (1).png"]
    assert (fake_comfyui.root_dir / "input" / "up" / "a (1).png").read_bytes() == b"two"


async def test_a_client_id_reconnecting_mid_run_is_told_the_current_node(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.step_delay = 0.1
    client_id = uuid.uuid4().hex
    async with ComfyUIClient(fake_comfyui.url) as client:
        await client.submit_prompt(sd15_txt2img(steps=5), client_id)
        await asyncio.sleep(0.15)
        async with client.websocket(client_id, preview_metadata=False) as stream:
            first, second = await stream.__anext__(), await stream.__anext__()
        await client.interrupt()
    assert type(first).__name__ == "Status" and getattr(second, "node", None) == "3"


async def test_dying_mid_run_loses_the_running_and_pending_prompts(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.node_delay = 0.2
    async with ComfyUIClient(fake_comfyui.url) as client:
        running = await client.submit_prompt(empty_to_save(color=1), "c")
        pending = await client.submit_prompt(empty_to_save(color=2), "c")
        await asyncio.sleep(0.05)
    await fake_comfyui.die()
    assert [fake_comfyui.log.prompt(i).outcome for i in (running, pending)] == ["lost", "lost"]
    assert fake_comfyui.log.active == 0


async def test_a_prompt_posted_to_the_front_runs_next(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.node_delay = 0.1
    async with httpx.AsyncClient(base_url=fake_comfyui.url) as http:
        posted = []
        for color, front in ((1, False), (2, False), (3, True)):
            body = {"prompt": empty_to_save(color=color), "front": front}
            posted.append((await http.post("/prompt", json=body)).json()["prompt_id"])
        while fake_comfyui.log.active:
            await asyncio.sleep(0.02)
    started = sorted(posted, key=lambda i: fake_comfyui.log.prompt(i).started or 0)
    assert started == [posted[0], posted[2], posted[1]]
