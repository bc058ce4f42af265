"""Each ComfyUI client (`clientId`) hears its own prompts and no one else's, whichever node runs
them, as on one ComfyUI (traces `two_clients_owner` / `two_clients_observer`: the observer hears
only `status`). A client that reconnects is told the current `status` first, and a websocket
opened after its prompt was posted still hears that prompt to its end.

`/history` is not by client id, as on ComfyUI: whoever may use the API reads it (an API key's
holder reads only its own prompts; that is the API keys' tests' to show).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, executing, follow, frames_until
from tests.support.comfyui_traces import (
    kinds,
    recorded_history_entry,
    recorded_kinds,
    require_traces,
)

STUCK = {"step_delay": 3600.0}  # a sampler step lasts until the prompt is interrupted
NO_QUEUE_AHEAD = {"COMFY_ROUTER__NODE__QUEUE_AHEAD": "0"}  # a waiting prompt stays in the router


def prompt_ids(frames: list[Any]) -> set[str]:
    return {
        frame["data"]["prompt_id"]
        for frame in frames
        if not isinstance(frame, bytes) and "prompt_id" in frame["data"]
    }


def sampling(prompt_id: str) -> Callable[[dict[str, Any]], bool]:
    return executing(prompt_id, "3")  # the KSampler of `sampler_graph`


def test_two_clients_each_hear_only_their_own_prompts(
    cluster_factory: Callable[..., Cluster],
) -> None:
    require_traces()
    cluster = cluster_factory(nodes=2)
    first, second = ScriptClient(cluster.router.url), ScriptClient(cluster.router.url)
    with first.websocket() as first_socket, second.websocket() as second_socket:
        mine = first.queue_prompt(tiny_graph(seed=1))["prompt_id"]
        theirs = second.queue_prompt(tiny_graph(seed=2))["prompt_id"]
        first_frames = follow(first_socket, mine)
        second_frames = follow(second_socket, theirs)
        # Both have ended; a prompt of the other's would have been relayed by now.
        third = first.queue_prompt(tiny_graph(seed=3))["prompt_id"]
        first_frames += follow(first_socket, third)
    assert prompt_ids(first_frames) == {mine, third}
    assert prompt_ids(second_frames) == {theirs}
    assert first.history(third)[third]["status"]["status_str"] == "success"
    # What ComfyUI's observer heard of another client's prompt: its status messages only.
    assert set(recorded_kinds("two_clients_observer")) == {"status"}


def test_a_client_that_reconnects_is_told_the_current_status(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, knobs=STUCK)
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        first = socket.recv(timeout=10)
        running = client.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(socket, sampling(running))
    with client.websocket() as socket:
        frames = frames_until(socket, lambda message: True)
        client.interrupt(running)
        frames += follow(socket, running)
    assert '"sid"' in first
    assert frames[0] == {
        "type": "status",
        "data": {"status": {"exec_info": {"queue_remaining": 1}}, "sid": client.client_id},
    }
    assert kinds(frames)[-3:] == ["execution_interrupted", "status", "executing"]


def test_a_websocket_opened_after_the_prompt_was_posted_hears_its_end(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, knobs=STUCK, **NO_QUEUE_AHEAD)
    blocker, late = ScriptClient(cluster.router.url), ScriptClient(cluster.router.url)
    with blocker.websocket() as blocking_socket:
        blocking = blocker.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(blocking_socket, sampling(blocking))
        waiting = late.queue_prompt(tiny_graph(seed=2, save="SaveImage"))["prompt_id"]
        with late.websocket() as socket:
            assert [entry[1] for entry in late.queue()["queue_pending"]] == [waiting]
            blocker.interrupt(blocking)
            frames = follow(socket, waiting)
    assert frames[0]["type"] == "status"
    assert kinds(frames)[-3:] == ["execution_success", "status", "executing"]
    assert "execution_start" in kinds(frames) and "executed" in kinds(frames)
    assert prompt_ids(frames) == {waiting}


def test_a_websocket_opened_after_its_prompt_ended_hears_nothing_of_it(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """As on ComfyUI: a prompt's messages are for whoever listens while it runs."""
    cluster = cluster_factory(nodes=1)
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        done = client.queue_prompt(tiny_graph(seed=3))["prompt_id"]
        follow(socket, done)
    with client.websocket() as socket:
        another = client.queue_prompt(tiny_graph(seed=4))["prompt_id"]
        frames = follow(socket, another)
    assert prompt_ids(frames) == {another}


def test_a_prompt_posted_without_a_client_id_runs_and_is_relayed_to_no_one(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """ComfyUI broadcasts such a prompt's `status` and `progress_state` to every client (trace
    `no_client_id`); the router tells no one of a prompt that named no client."""
    require_traces()
    cluster = cluster_factory(nodes=1)
    listener = ScriptClient(cluster.router.url)
    with listener.websocket() as socket:
        anonymous = listener.request("POST", "/prompt", {"prompt": tiny_graph(seed=5)})
        anonymous_id = anonymous["prompt_id"]
        cluster.wait_for(anonymous_id)
        mine = listener.queue_prompt(tiny_graph(seed=6))["prompt_id"]
        frames = follow(socket, mine)
    assert prompt_ids(frames) == {mine}
    entry = listener.history(anonymous_id)[anonymous_id]
    assert entry["status"]["status_str"] == "success"
    # Its extra_data names no client, as ComfyUI's does.
    assert set(entry["prompt"][3]) == set(recorded_history_entry("no_client_id")["prompt"][3])
    assert "progress_state" in recorded_kinds("no_client_id")


def test_a_websocket_without_a_client_id_hears_the_prompts_posted_under_the_sid_it_is_given(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """ComfyUI's web frontend opens /ws without a clientId and posts under the `sid` of the
    first `status`."""
    cluster = cluster_factory(nodes=1)
    client = ScriptClient(cluster.router.url)
    with client.websocket(send_client_id=False) as socket:
        [status] = frames_until(socket, lambda message: True)
        client.client_id = status["data"]["sid"]
        prompt_id = client.queue_prompt(tiny_graph(seed=7))["prompt_id"]
        frames = follow(socket, prompt_id)
    assert "execution_start" in kinds(frames) and prompt_ids(frames) == {prompt_id}
