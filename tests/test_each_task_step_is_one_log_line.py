"""A task's steps are one INFO line each: submitted (id, type), downloading (its files), assigned
to a node (and whether queued ahead), and its end with how long it waited and ran."""

from __future__ import annotations

import re
import time

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph
from tests.support.file_server import FileServer, file_server  # noqa: F401  (fixture)
from tests.support.live_router import LiveRouter
from tests.workflow_params import body, custom, sd15_params


def lines_about(log: str, task_id: str) -> list[str]:
    return [line for line in log.splitlines() if f"Task {task_id}" in line]


def wait_for_line(router: LiveRouter, pattern: str, timeout: float = 10) -> str:
    """The end is logged as the final event is sent: a client may see it first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, router.log())
        if found:
            return found.group(0)
        time.sleep(0.05)
    raise AssertionError(f"no line matches {pattern!r}:\n{router.log()}")


def test_a_task_logs_its_submission_download_node_and_end_with_durations(
    cluster: Cluster, file_server: FileServer  # noqa: F811
) -> None:
    url = file_server.url("/files/model.safetensors?size=1000")
    task_id = cluster.submit(body("SD15", sd15_params(checkpoint=custom(url))))
    assert cluster.wait_for(task_id)["status"] == "done"
    end = wait_for_line(cluster.router, rf"INFO \S+: Task {task_id} ended done .*")
    node_url = cluster.nodes[0].url  # the log names the node by id and URL
    lines = lines_about(cluster.router.log(), task_id)
    submitted = rf"INFO \S+: Task {task_id} submitted: SD15, 1 file\(s\) to download$"
    assert any(re.search(submitted, x) for x in lines), lines
    assert any(
        re.search(
            rf"INFO \S+: Task {task_id} downloading 1 file\(s\): models/checkpoints/\S+ from "
            + re.escape(url.split("?")[0]) + "$",
            x,
        )
        for x in lines
    ), lines
    assert any(
        re.search(rf"INFO \S+: Task {task_id} assigned to node \d+ \({re.escape(node_url)}\)$", x)
        for x in lines
    ), lines
    assert re.search(r"ended done \(waited \d+\.\d s, ran \d+\.\d s\)$", end), end
    assert "?size=" not in "\n".join(lines)  # a URL's query may carry a signature


def test_a_task_queued_behind_a_running_prompt_says_so(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 0.05
    first = cluster.submit(comfyui_body(sampler_graph(seed=31, steps=20)))
    cluster.wait_for(first, statuses=("running",))
    second = cluster.submit(comfyui_body(tiny_graph(seed=32)))
    assert cluster.wait_for(second)["status"] == "done"
    log = cluster.router.log()
    assert re.search(rf"Task {first} assigned to node \d+ \(\S+\)$", log, re.M), log
    assert re.search(rf"Task {second} assigned to node \d+ \(\S+\), queued ahead$", log, re.M), log


def test_a_task_cancelled_before_it_ran_logs_how_long_it_waited_only(
    live_router: LiveRouter,
) -> None:
    with live_router.client() as client:
        task_id = client.post("/workflow", json=comfyui_body(tiny_graph())).json()["id"]
        assert client.delete(f"/workflow/{task_id}").json()["status"] == "cancelled"
    end = wait_for_line(live_router, rf"Task {task_id} ended cancelled .*")
    assert re.search(r"ended cancelled \(waited \d+\.\d s\): Cancelled before it ran\.$", end), end
