"""The ComfyUI client against the fake over loopback: every way a prompt can go wrong."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from tests.comfyui_helpers import run_prompt
from tests.fake_comfyui import FakeComfyUI
from tests.fake_comfyui.fixtures import fake_comfyui  # noqa: F401
from tests.fake_comfyui.graphs import empty_to_save, sd15_txt2img
from workflows.comfyui import client as comfyui_client
from workflows.comfyui.client import (
    ComfyUIClient,
    NodeProtocolError,
    NodeUnreachable,
    Progress,
    PromptRejected,
    PromptTracker,
    WebsocketClosed,
)

pytestmark = pytest.mark.asyncio


async def test_an_execution_error_ends_the_prompt_with_comfyuis_exception(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.fail_at_node = "VAEDecode"
    fake_comfyui.fail_message = "VAE is invalid\n"
    async with ComfyUIClient(fake_comfyui.url) as client:
        tracker = await run_prompt(client, sd15_txt2img())
        history = await client.history(tracker.prompt_id)
    assert tracker.state == "error" and tracker.ended
    assert tracker.error is not None
    assert (tracker.error.node_id, tracker.error.node_type) == ("8", "VAEDecode")
    assert (tracker.error.exception_type, tracker.error.exception_message) == (
        "RuntimeError",
        "VAE is invalid\n",
    )
    assert history is not None and history["status"]["status_str"] == "error"


async def test_a_rejected_prompt_names_the_node_its_class_and_the_input(
    fake_comfyui: FakeComfyUI,
) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(PromptRejected) as rejected:
            await client.submit_prompt(
                sd15_txt2img(ckpt_name="missing.safetensors"), uuid.uuid4().hex
            )
    assert "node 4 (CheckpointLoaderSimple) input 'ckpt_name': Value not in list" in str(
        rejected.value
    )
    assert rejected.value.node_errors["4"]["errors"][0]["type"] == "value_not_in_list"
    assert rejected.value.status == 400


async def test_the_reject_knob_makes_a_valid_prompt_fail_validation(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.reject_prompt = True
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(PromptRejected, match=r"node 1 \(EmptyImage\) input 'width'"):
            await client.submit_prompt(empty_to_save(), uuid.uuid4().hex)
    assert fake_comfyui.log.prompts == []


async def test_a_graph_without_outputs_is_rejected_with_comfyuis_message(
    fake_comfyui: FakeComfyUI,
) -> None:
    graph = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        }
    }
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(PromptRejected, match="^Prompt has no outputs$"):
            await client.submit_prompt(graph, uuid.uuid4().hex)


async def test_a_ui_format_workflow_is_rejected_not_retried(fake_comfyui: FakeComfyUI) -> None:
    ui_workflow = {"last_node_id": 2, "links": [[1, 1, 0, 2, 0, "IMAGE"]], "nodes": []}
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(PromptRejected) as rejected:
            await client.submit_prompt(ui_workflow, uuid.uuid4().hex)
    assert rejected.value.status == 500


async def test_an_interrupt_mid_sampling_ends_the_prompt_interrupted(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.step_delay = 0.02
    graph = sd15_txt2img(steps=50)
    client_id = uuid.uuid4().hex
    async with ComfyUIClient(fake_comfyui.url) as client, client.websocket(client_id) as stream:
        prompt_id = await client.submit_prompt(graph, client_id)
        tracker = PromptTracker(graph, prompt_id)
        async for event in stream:
            tracker.feed(event)
            if isinstance(event, Progress) and event.value == 2:
                await client.interrupt(prompt_id)
            if tracker.ended:
                break
    assert tracker.state == "interrupted"
    assert tracker.interruption is not None and tracker.interruption.node_id == "3"
    assert fake_comfyui.log.prompt(prompt_id).outcome == "interrupted"


async def test_an_interrupt_for_another_prompt_is_ignored(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.step_delay = 0.01
    graph = sd15_txt2img(steps=5)
    client_id = uuid.uuid4().hex
    async with ComfyUIClient(fake_comfyui.url) as client, client.websocket(client_id) as stream:
        prompt_id = await client.submit_prompt(graph, client_id)
        tracker = PromptTracker(graph, prompt_id)
        async for event in stream:
            if isinstance(event, Progress) and event.value == 1:
                await client.interrupt("not-the-running-one")
            if tracker.feed(event) and tracker.ended:
                break
    assert tracker.state == "success"


async def test_a_dropped_websocket_is_reported_and_history_settles_the_prompt(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.step_delay = 0.02
    fake_comfyui.drop_websocket_after = 8
    graph = sd15_txt2img(steps=5)
    client_id = uuid.uuid4().hex
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(WebsocketClosed):
            async with client.websocket(client_id) as stream:
                prompt_id = await client.submit_prompt(graph, client_id)
                tracker = PromptTracker(graph, prompt_id)
                async for event in stream:
                    tracker.feed(event)
        assert not tracker.finished
        history = None
        for _ in range(100):
            history = await client.history(prompt_id)
            if history is not None:
                break
            await asyncio.sleep(0.02)
        assert history is not None
        tracker.apply_history(history)
    assert tracker.state == "success" and tracker.finished
    assert [o.filename for o in tracker.outputs] == ["sd15_random_00001_.png"]


async def test_a_dead_node_is_unreachable(fake_comfyui: FakeComfyUI) -> None:
    await fake_comfyui.stop()
    async with ComfyUIClient(fake_comfyui.url, timeout=2) as client:
        with pytest.raises(NodeUnreachable):
            await client.system_stats()
        with pytest.raises(NodeUnreachable):
            await client.submit_prompt(empty_to_save(), "c1")
        with pytest.raises(NodeUnreachable):
            async with client.websocket("c1"):
                pass


async def test_a_hanging_node_times_out_as_unreachable(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.hang = True
    async with ComfyUIClient(fake_comfyui.url, timeout=0.3) as client:
        with pytest.raises(NodeUnreachable):
            await client.system_stats()
        with pytest.raises(NodeUnreachable):
            async with client.websocket("c1"):
                pass


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_node(tmp_path: Path, authority: trustme.CA) -> AsyncIterator[FakeComfyUI]:
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    node = FakeComfyUI(tmp_path / "comfyui", ssl_context=served)
    await node.start()
    yield node
    await node.stop()


async def test_a_node_served_over_https_takes_prompts(
    https_node: FakeComfyUI, authority: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    monkeypatch.setattr(comfyui_client, "SSL_CONTEXT", trusting)
    assert https_node.url.startswith("https://")
    async with ComfyUIClient(https_node.url) as client:
        stats = await client.system_stats()
        prompt_id = await client.submit_prompt(empty_to_save(), "c1")
    assert stats["system"]["comfyui_version"]
    assert https_node.log.prompt(prompt_id).client_id == "c1"


async def test_a_node_whose_certificate_is_not_trusted_is_unreachable(
    https_node: FakeComfyUI,
) -> None:
    async with ComfyUIClient(https_node.url, timeout=5) as client:
        with pytest.raises(NodeUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            await client.system_stats()
    assert not https_node.log.requests


async def test_a_connection_the_node_closed_while_idle_is_replaced(
    fake_comfyui: FakeComfyUI,
) -> None:
    async with ComfyUIClient(fake_comfyui.url, timeout=5) as client:
        await client.system_stats()
        await fake_comfyui.stop()  # drops the kept-alive connection
        restarted = FakeComfyUI(fake_comfyui.root_dir, port=fake_comfyui.port)
        await restarted.start()
        try:
            stats = await client.system_stats()
            prompt_id = await client.submit_prompt(empty_to_save(), "c1")
        finally:
            await restarted.stop()
    assert stats["system"]
    assert restarted.log.prompt(prompt_id)


async def test_a_failing_system_stats_is_a_protocol_error(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.system_stats_status = 500
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(NodeProtocolError) as failed:
            await client.system_stats()
    assert failed.value.status == 500


async def test_the_token_goes_as_a_bearer_header_and_a_websocket_query(
    fake_comfyui: FakeComfyUI,
) -> None:
    fake_comfyui.required_token = "s3cret"
    async with ComfyUIClient(fake_comfyui.url, token="s3cret") as client:
        tracker = await run_prompt(client, empty_to_save())
    assert tracker.state == "success"
    assert {r.authorization for r in fake_comfyui.log.requests if r.path != "/ws"} == {
        "Bearer s3cret"
    }
    assert [w.token for w in fake_comfyui.log.websockets] == ["s3cret"]
    async with ComfyUIClient(fake_comfyui.url) as client:
        with pytest.raises(NodeProtocolError) as refused:
            await client.system_stats()
    assert refused.value.status == 401


async def test_no_origin_header_is_ever_sent(fake_comfyui: FakeComfyUI) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        await run_prompt(client, empty_to_save())
        await client.queue()
    assert fake_comfyui.log.requests and all(r.origin is None for r in fake_comfyui.log.requests)


async def test_pending_prompts_can_be_listed_and_deleted(fake_comfyui: FakeComfyUI) -> None:
    fake_comfyui.node_delay = 0.2
    async with ComfyUIClient(fake_comfyui.url) as client:
        first = await client.submit_prompt(empty_to_save(color=1), "c1")
        second = await client.submit_prompt(empty_to_save(color=2), "c1")
        await asyncio.sleep(0.05)
        assert await client.queue_prompt_ids() == ([first], [second])
        await client.queue_delete([second])
        assert await client.queue_prompt_ids() == ([first], [])
        await client.interrupt()
    assert fake_comfyui.log.prompt(second).outcome == "deleted"
