"""A node's tasks go on with the websockets the first ones opened (one, or with queue-ahead one
per prompt the node holds: 1 + NODE__QUEUE_AHEAD), whether they follow one another at once or
come while one waits (up to NODE__WEBSOCKET_IDLE seconds): each prompt is sent under its
websocket's client id, each task still gets its own outputs; past that wait a websocket is
closed."""

from __future__ import annotations

import base64
import sqlite3
import time
from collections.abc import Callable

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.cluster import Cluster, comfyui_body, tiny_graph

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_queued_tasks_run_one_after_another_over_one_websocket(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0, COMFY_ROUTER__NODE__QUEUE_AHEAD="0")
    ids = [cluster.submit(comfyui_body(tiny_graph(seed=seed))) for seed in range(1, 5)]
    fake = cluster.add_node()  # every task waits when the node comes: they run in a row
    tasks = [cluster.wait_for(task_id) for task_id in ids]

    assert [task["status"] for task in tasks] == ["done"] * 4
    [websocket] = fake.log.websockets
    prompts = fake.log.prompts
    assert len(prompts) == 4
    assert {prompt.client_id for prompt in prompts} == {websocket.client_id}
    assert_own_outputs(cluster, tasks)


def test_with_queue_ahead_tasks_in_a_row_take_turns_on_two_websockets(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0)
    ids = [cluster.submit(comfyui_body(tiny_graph(seed=seed))) for seed in range(1, 9)]
    fake = cluster.add_node()
    tasks = [cluster.wait_for(task_id) for task_id in ids]

    assert [task["status"] for task in tasks] == ["done"] * 8
    assert len(fake.log.websockets) == 2  # the running prompt's and the queued one's
    clients = {websocket.client_id for websocket in fake.log.websockets}
    assert {prompt.client_id for prompt in fake.log.prompts} == clients
    assert len(fake.log.prompts) == 8
    assert_own_outputs(cluster, tasks)


def assert_own_outputs(cluster: Cluster, tasks: list[dict]) -> None:
    colours = set()
    with cluster.client() as client:
        for task in tasks:
            [output] = task["outputs"]
            image = client.get(output["url"]).content
            assert image.startswith(PNG_SIGNATURE)
            colours.add(base64.b64encode(image))
    assert len(colours) == len(tasks)  # each task got its own image, not its neighbour's


def test_a_task_that_comes_while_the_websocket_waits_goes_on_with_it(cluster: Cluster) -> None:
    first = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    assert cluster.wait_for(first)["status"] == "done"
    second = cluster.submit(comfyui_body(tiny_graph(seed=8)))
    assert cluster.wait_for(second)["status"] == "done"
    fake = cluster.nodes[0]
    [websocket] = fake.log.websockets
    assert websocket.closed is None
    assert [prompt.client_id for prompt in fake.log.prompts] == [websocket.client_id] * 2


def test_a_websocket_left_waiting_longer_than_the_limit_is_closed(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, COMFY_ROUTER__NODE__WEBSOCKET_IDLE="0.3")
    fake = cluster.nodes[0]
    first = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    assert cluster.wait_for(first)["status"] == "done"
    deadline = time.monotonic() + 10
    while fake.log.websockets[0].closed is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.log.websockets[0].closed is not None
    second = cluster.submit(comfyui_body(tiny_graph(seed=8)))
    assert cluster.wait_for(second)["status"] == "done"
    assert len(fake.log.websockets) == 2  # a new one for the task after


def test_a_node_restarted_while_its_websocket_waits_gets_a_new_one_for_its_next_task(
    cluster: Cluster,
) -> None:
    fake = cluster.nodes[0]
    first = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    assert cluster.wait_for(first)["status"] == "done"
    fake.restart()  # the waiting websocket goes with the old process
    cluster.wait_for_node(fake.url, "idle")
    second = cluster.submit(comfyui_body(tiny_graph(seed=8)))
    task = cluster.wait_for(second)
    assert task["status"] == "done" and len(task["outputs"]) == 1
    assert len(fake.log.websockets) >= 2


def test_a_node_moved_to_another_url_while_its_websocket_waits_is_reached_at_the_new_one(
    cluster: Cluster,
) -> None:
    old = cluster.nodes[0]
    first = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    assert cluster.wait_for(first)["status"] == "done"
    with FakeComfyUIThread(cluster.router.root_dir) as new:
        # As an operator editing the node in the admin: same node, another address.
        with sqlite3.connect(cluster.router.data_dir / "router.sqlite3", timeout=30) as database:
            database.execute("UPDATE nodes_node SET url = ? WHERE url = ?", (new.url, old.url))
        second = cluster.submit(comfyui_body(tiny_graph(seed=8)))
        task = cluster.wait_for(second)
        assert task["status"] == "done" and task["node"] == new.url
        [prompt] = new.log.prompts
        assert [websocket.client_id for websocket in new.log.websockets] == [prompt.client_id]
    assert len(old.log.prompts) == 1
