"""The files a prompt saved reach its ComfyUI client as on one ComfyUI: `executed` names each one
(`filename`, `subfolder`, `type`: output for SaveImage, temp for PreviewImage), and `GET /view`
with those three answers the file's bytes, as websockets_api_example.py fetches them. The names
are the router's: the file as the router stored it, the prompt's id as its subfolder.
"""

from __future__ import annotations

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow
from tests.support.comfyui_traces import assert_shaped_like_comfyui


def test_each_saved_file_is_named_in_executed_and_served_by_view(cluster: Cluster) -> None:
    graph = tiny_graph(seed=1, save="SaveImage")
    graph["3"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        prompt_id = client.queue_prompt(graph)["prompt_id"]
        frames = follow(socket, prompt_id)
    executed = [f for f in frames if not isinstance(f, bytes) and f["type"] == "executed"]
    assert sorted(message["data"]["node"] for message in executed) == ["2", "3"]
    root = cluster.router.root_dir
    for message in executed:
        assert_shaped_like_comfyui(message)
        [image] = message["data"]["output"]["images"]
        assert image["subfolder"] == prompt_id
        assert image["type"] == {"2": "output", "3": "temp"}[message["data"]["node"]]
        served = client.view(image["filename"], image["subfolder"], image["type"])
        [saved] = [p for p in (root / image["type"]).iterdir() if p.suffix == ".png"]
        assert served == saved.read_bytes()
    outputs = client.history(prompt_id)[prompt_id]["outputs"]
    assert outputs == {m["data"]["node"]: m["data"]["output"] for m in executed}
