from __future__ import annotations

import time

from tests.support.cluster import Cluster, comfyui_body, tiny_graph


def test_only_the_newest_history_limit_finished_tasks_are_kept_with_their_files(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=1, COMFY_ROUTER__HISTORY_LIMIT="3")
    task_ids = []
    for seed in range(5):
        task_ids.append(cluster.submit(comfyui_body(tiny_graph(seed=50 + seed))))
        cluster.wait_for(task_ids[-1])
    outputs = cluster.router.data_dir / "outputs"
    with cluster.client() as client:
        # The dispatcher's once-a-second sweep deletes the oldest.
        deadline = time.monotonic() + 10
        while client.get("/workflow").json()["count"] > 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        kept = [t["id"] for t in client.get("/workflow").json()["results"]]
        assert kept == task_ids[:1:-1]
        for gone in task_ids[:2]:
            assert client.get(f"/workflow/{gone}").status_code == 404
    assert sorted(p.name for p in outputs.iterdir()) == sorted(task_ids[2:])
