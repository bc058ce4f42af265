"""However fast tasks come and go, a node never holds more prompts than its one running plus
NODE__QUEUE_AHEAD (default 1) waiting in its queue, and every task's prompt is sent once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.cluster import Cluster, comfyui_body, tiny_graph

TASKS = 200
NODES = 5


def test_200_tasks_on_5_nodes_never_give_a_node_more_prompts_than_it_may_hold(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=0, COMFY_ROUTER__PENDING_LIMIT=str(TASKS), COMFY_ROUTER__HISTORY_LIMIT=str(TASKS)
    )
    # Half wait before any node comes (so nodes surely get prompts queued ahead), half are
    # posted while the nodes work through them.
    waiting = [cluster.submit(comfyui_body(tiny_graph(i))) for i in range(TASKS // 2)]
    for _ in range(NODES):
        cluster.add_node(node_delay=0.005)
    with ThreadPoolExecutor(max_workers=10) as pool:
        posted = list(
            pool.map(lambda i: cluster.submit(comfyui_body(tiny_graph(i))), range(TASKS // 2, TASKS))
        )
    tasks = [cluster.wait_for(task_id, timeout=120) for task_id in waiting + posted]
    assert [t["status"] for t in tasks] == ["done"] * TASKS
    prompts = [prompt for node in cluster.nodes for prompt in node.log.prompts]
    assert len(prompts) == TASKS
    for node in cluster.nodes:
        assert node.log.max_active <= 2, node.url
        runs = sorted((p.started, p.ended) for p in node.log.prompts)
        assert all(earlier[1] <= later[0] for earlier, later in zip(runs, runs[1:]))
    assert sum(1 for node in cluster.nodes if node.log.prompts) == NODES
    assert len({prompt.prompt_id for prompt in prompts}) == TASKS
    assert any(node.log.max_active == 2 for node in cluster.nodes)  # they were queued ahead


def test_without_queue_ahead_a_node_never_holds_two_prompts(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=NODES, knobs={"node_delay": 0.005}, COMFY_ROUTER__PENDING_LIMIT=str(TASKS),
        COMFY_ROUTER__HISTORY_LIMIT=str(TASKS), COMFY_ROUTER__NODE__QUEUE_AHEAD="0",
    )
    with ThreadPoolExecutor(max_workers=10) as pool:
        task_ids = list(pool.map(lambda i: cluster.submit(comfyui_body(tiny_graph(i))), range(50)))
    tasks = [cluster.wait_for(task_id, timeout=120) for task_id in task_ids]
    assert [t["status"] for t in tasks] == ["done"] * 50
    assert all(node.log.max_active <= 1 for node in cluster.nodes)
