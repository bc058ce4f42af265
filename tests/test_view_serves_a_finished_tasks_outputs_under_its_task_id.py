"""ComfyUI's `GET /view` serves a task's output files as the whole front door names them:
`filename` the output's stored name, `subfolder` the task's id, `type` output (or temp), under the
same rules as `GET /workflow/{id}/outputs/{n}` (inline media, CSP, nosniff). Anything else is
ComfyUI's answer: 404 for what is not there, 400 for a name with `..`, 403 for a subfolder
leading out."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.live_router import PROJECT_DIR


@pytest.fixture
def finished(cluster_factory: Callable[..., Cluster]) -> tuple[Cluster, str, str]:
    """A cluster, a done task's id and the stored name of its one output."""
    cluster = cluster_factory(nodes=1)
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    assert cluster.wait_for(task_id)["status"] == "done"
    (stored,) = (cluster.router.data_dir / "outputs" / task_id).iterdir()
    return cluster, task_id, stored.name


@pytest.mark.parametrize("folder_type", ["output", "temp"])
def test_a_tasks_output_is_served_by_stored_name_and_task_id(
    finished: tuple[Cluster, str, str], folder_type: str
) -> None:
    cluster, task_id, stored = finished
    query = {"filename": stored, "subfolder": task_id, "type": folder_type}
    with cluster.client() as client:
        answer = client.get("/view", params=query)
        same = client.get(f"/workflow/{task_id}/outputs/0")
        via_api = client.get("/api/view", params=query)
        head = client.head("/view", params=query)
    assert answer.status_code == 200, answer.text
    assert answer.content == same.content == via_api.content
    assert answer.content.startswith(b"\x89PNG")
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert head.status_code == 200 and head.content == b""


def test_preview_and_channel_are_ignored(finished: tuple[Cluster, str, str]) -> None:
    cluster, task_id, stored = finished
    query = {"filename": stored, "subfolder": task_id, "type": "output"}
    with cluster.client() as client:
        plain = client.get("/view", params=query)
        previewed = client.get("/view", params={**query, "preview": "webp;50", "channel": "rgb"})
    assert previewed.status_code == 200
    assert previewed.content == plain.content


def test_what_is_not_there_is_a_404(finished: tuple[Cluster, str, str]) -> None:
    cluster, task_id, stored = finished
    missing = [
        {"filename": "000-other.png", "subfolder": task_id, "type": "output"},
        {"filename": stored, "subfolder": "00000000-0000-0000-0000-000000000000"},
        {"filename": stored, "subfolder": "not-a-task", "type": "output"},
        {"filename": stored, "type": "output"},
        {"subfolder": task_id, "type": "output"},
    ]
    with cluster.client() as client:
        for query in missing:
            assert client.get("/view", params=query).status_code == 404, query


def test_paths_are_400s_and_403s_as_in_comfyui(finished: tuple[Cluster, str, str]) -> None:
    cluster, task_id, stored = finished
    with cluster.client() as client:
        traversal = client.get("/view", params={"filename": "../../etc/passwd", "type": "output"})
        absolute = client.get("/view", params={"filename": "/etc/passwd", "type": "output"})
        unknown_type = client.get("/view", params={"filename": stored, "type": "models"})
        out = client.get("/view", params={"filename": stored, "subfolder": f"{task_id}/../.."})
    assert (traversal.status_code, absolute.status_code, unknown_type.status_code) == (400, 400, 400)
    assert out.status_code == 403


def test_view_needs_credentials(finished: tuple[Cluster, str, str]) -> None:
    cluster, task_id, stored = finished
    with cluster.client(auth=None) as client:
        answer = client.get("/view", params={"filename": stored, "subfolder": task_id})
    assert answer.status_code == 401


def api_key(cluster: Cluster, client_name: str) -> str:
    """A key of a new client, made as an operator makes one."""
    for command in (["create_client", client_name], ["create_api_key", client_name]):
        made = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=PROJECT_DIR,
            env=cluster.router.environment(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_another_clients_task_output_is_a_404(finished: tuple[Cluster, str, str]) -> None:
    cluster, task_id, stored = finished
    key = api_key(cluster, "someone-else")
    query = {"filename": stored, "subfolder": task_id, "type": "output"}
    with cluster.client(auth=None, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.get("/view", params=query).status_code == 404
    with cluster.client(auth=None) as client:
        assert client.get("/view", params={**query, "token": key}).status_code == 404
