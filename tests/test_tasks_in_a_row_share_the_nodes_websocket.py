"""Tasks that follow one another on a node go on with the websocket the first one opened: the
next prompt is sent under the same client id, each task still gets its own outputs, and the
websocket is closed once the node has nothing more to run."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

from tests.support.cluster import Cluster, comfyui_body, tiny_graph

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_queued_tasks_run_one_after_another_over_one_websocket(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0)
    ids = [cluster.submit(comfyui_body(tiny_graph(seed=seed))) for seed in range(1, 5)]
    fake = cluster.add_node()  # every task waits when the node comes: they run in a row
    tasks = [cluster.wait_for(task_id) for task_id in ids]

    assert [task["status"] for task in tasks] == ["done"] * 4
    [websocket] = fake.log.websockets
    prompts = fake.log.prompts
    assert len(prompts) == 4
    assert {prompt.client_id for prompt in prompts} == {websocket.client_id}
    colours = set()
    with cluster.client() as client:
        for task in tasks:
            [output] = task["outputs"]
            image = client.get(output["url"]).content
            assert image.startswith(PNG_SIGNATURE)
            colours.add(base64.b64encode(image))
    assert len(colours) == 4  # each task got its own image, not its neighbour's


def test_the_websocket_is_closed_when_the_node_has_nothing_more_to_run(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    assert cluster.wait_for(task_id)["status"] == "done"
    fake = cluster.nodes[0]
    deadline = time.monotonic() + 10
    while fake.log.websockets[-1].closed is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [record.closed is not None for record in fake.log.websockets] == [True]
