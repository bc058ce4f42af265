"""Files given by URL are fetched into the cache and linked for ComfyUI before a node is claimed."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.file_server import FileServer, file_server  # noqa: F401  (fixture)
from tests.workflow_params import body, custom, sd15_params


def test_a_custom_checkpoint_is_downloaded_once_linked_and_the_task_runs(
    cluster: Cluster, file_server: FileServer  # noqa: F811
) -> None:
    url = file_server.url("/slow/model.safetensors?size=200000")
    lora = file_server.url("/files/style.safetensors?size=1000")
    params = sd15_params(checkpoint=custom(url), loras=[{"model": custom(lora), "weight": 0.5}])
    first = cluster.submit(body("SD15", params))
    second = cluster.submit(body("SD15", {**params, "seed": 7}))
    tasks = [cluster.wait_for(task_id) for task_id in (first, second)]
    assert [t["status"] for t in tasks] == ["done", "done"], tasks
    assert file_server.hits["/slow/model.safetensors"] == 1
    assert file_server.hits["/files/style.safetensors"] == 1
    checkpoints = cluster.router.root_dir / "models" / "checkpoints"
    linked = [p for p in checkpoints.iterdir() if p.is_symlink()]
    assert len(linked) == 1 and linked[0].name.endswith(".safetensors")
    assert linked[0].resolve().parent == cluster.router.cache_dir.resolve()
    prompt = cluster.nodes[0].log.prompts[0]
    loader = next(n for n in prompt.graph.values() if n["class_type"] == "CheckpointLoaderSimple")
    assert loader["inputs"]["ckpt_name"] == linked[0].name


def test_a_failed_download_ends_the_task_in_an_error_naming_the_url(
    cluster: Cluster, file_server: FileServer  # noqa: F811
) -> None:
    url = file_server.url("/no-such-route/broken.safetensors")
    task = cluster.wait_for(cluster.submit(body("SD15", sd15_params(checkpoint=custom(url)))))
    assert task["status"] == "error", task
    assert "broken.safetensors" in task["error"]["message"]
    assert cluster.nodes[0].log.prompts == []
    cluster.wait_for_node(cluster.nodes[0].url, "idle")
