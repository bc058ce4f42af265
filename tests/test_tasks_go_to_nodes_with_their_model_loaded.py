"""End to end: with model-affinity scheduling each node loads a checkpoint once and keeps it, when
tasks for two checkpoints alternate over two fake nodes that charge a load time."""

from __future__ import annotations

from collections.abc import Callable

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.cluster import Cluster, comfyui_body, sampler_graph

CHECKPOINTS = ("alpha.safetensors", "beta.safetensors")


def graph_for(checkpoint: str, seed: int) -> dict[str, object]:
    graph = sampler_graph(seed=seed, steps=2)
    graph["4"]["inputs"]["ckpt_name"] = checkpoint
    return graph


def loads(fake: FakeComfyUIThread) -> int:
    """How many times the fake switched checkpoints (its first load included)."""
    loaded, switches = None, 0
    for prompt in sorted(fake.log.prompts, key=lambda p: p.started or 0):
        checkpoint = prompt.graph["4"]["inputs"]["ckpt_name"]
        switches += checkpoint != loaded
        loaded = checkpoint
    return switches


def test_alternating_checkpoints_are_each_loaded_once_on_their_own_node(
    cluster_factory: Callable[..., Cluster],
) -> None:
    # A long affinity wait: a task always waits for the node running its model, so the count of
    # loads does not depend on how fast this machine is.
    cluster = cluster_factory(nodes=0, COMFY_ROUTER__SCHEDULER__AFFINITY_WAIT="60")
    folder = cluster.router.root_dir / "models" / "checkpoints"
    for checkpoint in CHECKPOINTS:  # on the nodes before they say what they have
        (folder / checkpoint).write_bytes(b"weights")
    for _ in range(2):
        cluster.add_node(load_time=0.3, step_delay=0.05)
    task_ids = [
        cluster.submit(comfyui_body(graph_for(CHECKPOINTS[seed % 2], seed))) for seed in range(8)
    ]
    for task_id in task_ids:
        assert cluster.wait_for(task_id, timeout=60)["status"] == "done"
    assert [loads(fake) for fake in cluster.nodes] == [1, 1]
    per_node = [{p.graph["4"]["inputs"]["ckpt_name"] for p in f.log.prompts} for f in cluster.nodes]
    assert sorted(map(sorted, per_node)) == [[CHECKPOINTS[0]], [CHECKPOINTS[1]]]
