"""Previews and SaveImageWebsocket images reach a ComfyUI client as binary frames, in the form
it asked for, as a real ComfyUI 0.8.0 sends them: a client that sent no feature flags gets event
1 (format, then the image) after each `progress`; one that sent `feature_flags` with
`supports_preview_metadata` hears the server's flags, then gets event 4 (metadata, then the
image) before each `progress`, the metadata naming the router's prompt id. Compared with traces
`empty_to_savewebsocket` and `empty_to_savewebsocket_featureflags` (the same graph).

Not ComfyUI: the router's flags leave out `extension.manager` (it serves no Manager routes).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow
from tests.support.comfyui_traces import (
    assert_shaped_like_comfyui,
    binary_header,
    kinds,
    preview_metadata,
    recorded_kinds,
    recorded_messages,
    recorded_preview_metadata_keys,
    require_traces,
)

EVENT_PREVIEW, EVENT_PREVIEW_WITH_METADATA = 1, 4
JPEG, PNG = 1, 2


def without_status(sequence: list[str]) -> list[str]:
    """The router's `status` messages are about the pool, not where ComfyUI puts its own."""
    return [kind for kind in sequence if kind != "status"]


def image_of(frame: bytes) -> Image.Image:
    event, word = binary_header(frame)
    start = 8 if event == EVENT_PREVIEW else 8 + word
    return Image.open(io.BytesIO(frame[start:]))


def run(
    client: ScriptClient, graph: dict[str, Any], feature_flags: bool, **extra: Any
) -> tuple[str, list[Any]]:
    with client.websocket(feature_flags=feature_flags) as socket:
        answer = client.queue_prompt(graph, **extra)
        return answer["prompt_id"], follow(socket, answer["prompt_id"])


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=1)


def test_a_client_without_feature_flags_gets_websocket_images_as_event_1_after_progress(
    cluster: Cluster,
) -> None:
    client = ScriptClient(cluster.router.url)
    _, frames = run(client, tiny_graph(seed=1, save="SaveImageWebsocket"), feature_flags=False)
    assert without_status(kinds(frames)) == without_status(recorded_kinds("empty_to_savewebsocket"))
    [frame] = [f for f in frames if isinstance(f, bytes)]
    assert binary_header(frame) == (EVENT_PREVIEW, PNG)
    with image_of(frame) as image:
        assert (image.format, image.size) == ("PNG", (64, 64))


def test_a_client_without_feature_flags_gets_sampler_previews_as_event_1_jpegs(
    cluster: Cluster,
) -> None:
    client = ScriptClient(cluster.router.url)
    _, frames = run(client, sampler_graph(seed=2, steps=3), feature_flags=False)
    binary = [f for f in frames if isinstance(f, bytes)]
    # three sampler steps, then the SaveImageWebsocket image
    assert [binary_header(f) for f in binary] == [(EVENT_PREVIEW, JPEG)] * 3 + [
        (EVENT_PREVIEW, PNG)
    ]
    sequence = kinds(frames)
    for index, kind in enumerate(sequence):
        if kind == "bin1":
            assert sequence[index - 1] == "progress", sequence
    with image_of(binary[0]) as preview:
        assert preview.format == "JPEG"


def test_a_client_with_feature_flags_gets_event_4_naming_the_routers_prompt_id(
    cluster: Cluster,
) -> None:
    client = ScriptClient(cluster.router.url)
    graph = tiny_graph(seed=3, save="SaveImageWebsocket")
    # The trace ran the graph a second time, its EmptyImage cached: so does this test.
    run(client, graph, feature_flags=True)
    prompt_id, frames = run(client, graph, feature_flags=True)
    recorded = recorded_kinds("empty_to_savewebsocket_featureflags")
    assert without_status(kinds(frames)) == without_status(recorded)
    flags = next(f for f in frames if not isinstance(f, bytes) and f["type"] == "feature_flags")
    assert flags["data"]["supports_preview_metadata"] is True
    [recorded_flags] = {frozenset(m["data"]) for m in recorded_messages()["feature_flags"]}
    assert set(flags["data"]) == set(recorded_flags) - {"extension"}
    assert isinstance(flags["data"]["max_upload_size"], int)
    [frame] = [f for f in frames if isinstance(f, bytes)]
    metadata = preview_metadata(frame)
    assert set(metadata) == recorded_preview_metadata_keys()
    assert metadata["prompt_id"] == prompt_id
    assert (metadata["node_id"], metadata["image_type"]) == ("2", "image/png")
    with image_of(frame) as image:
        assert (image.format, image.size) == ("PNG", (64, 64))
    for message in frames:
        if not isinstance(message, bytes) and message["type"] != "feature_flags":
            assert_shaped_like_comfyui(message)


def test_sampler_previews_with_metadata_come_before_their_progress(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    prompt_id, frames = run(client, sampler_graph(seed=4, steps=2), feature_flags=True)
    binary = [f for f in frames if isinstance(f, bytes)]
    assert [preview_metadata(f)["image_type"] for f in binary] == ["image/jpeg"] * 2 + [
        "image/png"
    ]
    assert {preview_metadata(f)["prompt_id"] for f in binary} == {prompt_id}
    assert [preview_metadata(f)["node_id"] for f in binary] == ["3", "3", "9"]
    sequence = kinds(frames)
    for index, kind in enumerate(sequence):
        if kind == "bin4":
            assert sequence[index + 1] == "progress", sequence


def test_a_client_that_chose_no_previews_gets_none_and_its_choice_reaches_the_node(
    cluster: Cluster,
) -> None:
    """As from one ComfyUI, `extra_data.preview_method` is the client's to choose: the router
    asks for previews ("auto") only when the client said nothing."""
    client = ScriptClient(cluster.router.url)
    graph = sampler_graph(seed=5, steps=3)
    _, frames = run(client, graph, feature_flags=False, extra_data={"preview_method": "none"})
    binary = [f for f in frames if isinstance(f, bytes)]
    assert [binary_header(f) for f in binary] == [(EVENT_PREVIEW, PNG)]  # the websocket image
    run(client, sampler_graph(seed=6, steps=3), False, extra_data={"preview_method": "taesd"})
    run(client, sampler_graph(seed=7, steps=3), feature_flags=False)
    methods = [prompt.extra_data["preview_method"] for prompt in cluster.nodes[0].log.prompts]
    assert methods == ["none", "taesd", "auto"]
