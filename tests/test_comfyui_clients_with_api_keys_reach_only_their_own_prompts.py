"""A ComfyUI-style client holding an API key (`?token=`, as clients behind an auth proxy send
it) works through ComfyUI's routes without the operator's password, and reaches only its own
prompts: another key's client hears nothing of them on `/ws`, even under the same clientId, and
finds them in none of `/history`, `/queue`, `/view` or `/interrupt`. The operator sees them all."""

from __future__ import annotations

import urllib.error
from collections.abc import Callable

import pytest

from tests.support.cluster import Cluster, tiny_graph
from tests.support.clients import client_with_key
from tests.support.comfyui_script_client import ScriptClient, follow


def test_a_key_holders_prompts_are_its_own(cluster_factory: Callable[..., Cluster]) -> None:
    cluster = cluster_factory(nodes=1)
    url = cluster.router.url
    owner_key = client_with_key(cluster.router, "owner")
    other_key = client_with_key(cluster.router, "other")
    owner = ScriptClient(url, auth=None, token=owner_key, client_id="shared-id")
    other = ScriptClient(url, auth=None, token=other_key, client_id="shared-id")
    operator = ScriptClient(url, client_id="shared-id")

    with other.websocket() as other_socket, operator.websocket() as operator_socket:
        assert other_socket.recv(timeout=10)  # its first status
        assert operator_socket.recv(timeout=10)
        with owner.websocket() as owner_socket:
            owner_socket.recv(timeout=10)
            prompt_id = owner.queue_prompt(tiny_graph(seed=5, save="SaveImage"))["prompt_id"]
            frames = follow(owner_socket, prompt_id)
        # The other key's prompt, after the owner's ended: the first thing its socket hears
        # must be about its own prompt, not the owner's.
        own = other.queue_prompt(tiny_graph(seed=6))["prompt_id"]
        heard = follow(other_socket, own)
        operator_own = operator.queue_prompt(tiny_graph(seed=7))["prompt_id"]
        operator_heard = follow(operator_socket, operator_own)

    ids = {f["data"].get("prompt_id") for f in heard if isinstance(f, dict)}
    assert ids <= {own, None}
    operator_ids = {f["data"].get("prompt_id") for f in operator_heard if isinstance(f, dict)}
    assert operator_ids <= {operator_own, None}  # same clientId, but the operator's own group

    entry = owner.history(prompt_id)[prompt_id]
    image = entry["outputs"]["2"]["images"][0]
    assert owner.view(image["filename"], image["subfolder"], image["type"]).startswith(b"\x89PNG")
    assert any(isinstance(f, dict) and f["type"] == "executed" for f in frames)

    assert other.history(prompt_id) == {}
    assert prompt_id not in other.request("GET", "/history")
    with pytest.raises(urllib.error.HTTPError) as hidden:
        other.view(image["filename"], image["subfolder"], image["type"])
    assert hidden.value.code == 404
    other.interrupt(prompt_id)  # names no prompt of its own: nothing happens
    assert owner.history(prompt_id)[prompt_id]["status"]["status_str"] == "success"

    assert prompt_id in operator.request("GET", "/history")
    assert own in operator.request("GET", "/history")


def test_a_bad_token_is_refused_on_comfyuis_routes(cluster_factory: Callable[..., Cluster]) -> None:
    cluster = cluster_factory(nodes=0)
    stranger = ScriptClient(cluster.router.url, auth=None, token="cr_not-a-key")
    status, _ = stranger.error("POST", "/prompt", {"prompt": tiny_graph(1)})
    assert status == 401
    status, _ = stranger.error("GET", "/history")
    assert status == 401
