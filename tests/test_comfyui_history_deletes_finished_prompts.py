"""`POST /history {"delete": [...]}` removes those finished prompts and `{"clear": true}` every
one, as ComfyUI does (trace `basic_endpoints` deletes an id it never had: 200, nothing else);
a prompt still running is no history yet and stays. Ids that name nothing are let be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, executing, follow, frames_until

STUCK = {"step_delay": 3600.0}  # a sampler step lasts until the prompt is interrupted


def run(client: ScriptClient, seeds: tuple[int, ...]) -> list[str]:
    finished = []
    with client.websocket() as socket:
        for seed in seeds:
            finished.append(client.queue_prompt(tiny_graph(seed=seed))["prompt_id"])
            follow(socket, finished[-1])
    return finished


def sampling(prompt_id: str) -> Callable[[dict[str, Any]], bool]:
    return executing(prompt_id, "3")  # the KSampler of `sampler_graph`


def test_deleting_named_prompts_leaves_the_others(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    first, second, third = run(client, (1, 2, 3))
    assert client.request(
        "POST", "/history", {"delete": [second, "00000000-0000-0000-0000-000000000000", "x"]}
    ) is None
    assert client.history(second) == {}
    assert list(client.request("GET", "/history")) == [first, third]
    assert client.history(first)[first]["status"]["status_str"] == "success"


def test_clearing_the_history_removes_every_finished_prompt(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, knobs=STUCK)
    client = ScriptClient(cluster.router.url)
    finished = run(client, (4, 5))
    with client.websocket() as socket:
        running = client.queue_prompt(sampler_graph(seed=6))["prompt_id"]
        frames_until(socket, sampling(running))
        client.request("POST", "/history", {"clear": True})
        assert client.request("GET", "/history") == {}
        assert all(client.history(prompt_id) == {} for prompt_id in finished)
        client.request("POST", "/history", {"delete": [running]})
        assert [entry[1] for entry in client.queue()["queue_running"]] == [running]
        client.interrupt(running)
        follow(socket, running)
    assert list(client.request("GET", "/history")) == [running]
