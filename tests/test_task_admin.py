from __future__ import annotations

import httpx

from tests.support.cluster import Cluster, comfyui_body, tiny_graph


def test_the_admin_lists_tasks_with_status_node_and_output_thumbnails(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=40)))
    cluster.wait_for(task_id)
    with httpx.Client(base_url=cluster.router.url, auth=("admin", "admin")) as browser:
        page = browser.get("/admin/workflows/task/")
        assert page.status_code == 200
        assert task_id[:8] in page.text
        assert "done" in page.text
        assert cluster.nodes[0].url in page.text
        thumbnail = f"/admin/workflows/task/{task_id}/outputs/0/"
        assert thumbnail in page.text
        image = browser.get(thumbnail)
        assert image.status_code == 200
        assert image.content.startswith(b"\x89PNG")
        detail = browser.get(f"/admin/workflows/task/{task_id}/change/")
        assert detail.status_code == 200
    anonymous = httpx.get(cluster.router.url + f"/admin/workflows/task/{task_id}/outputs/0/")
    assert anonymous.status_code == 302
