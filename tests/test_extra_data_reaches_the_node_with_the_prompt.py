"""What a ComfyUI client sends in `extra_data` (`extra_pnginfo`, which SaveImage writes into the
PNG, and anything else) reaches the node that runs the prompt, and `/history` and `/queue` show
it as ComfyUI does. The node hears the prompt under the router's client id, not the client's:
the router follows the prompt on the node itself and relays it to the client.
"""

from __future__ import annotations

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow

WORKFLOW = {"workflow": {"nodes": [{"id": 1, "type": "EmptyImage"}], "links": [], "version": 0.4}}


def test_extra_pnginfo_reaches_the_node_with_the_prompt(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    extra_data = {"extra_pnginfo": WORKFLOW, "my_tool": {"job": 7}}
    with client.websocket() as socket:
        answer = client.queue_prompt(tiny_graph(seed=1, save="SaveImage"), extra_data=extra_data)
        follow(socket, answer["prompt_id"])

    [received] = cluster.nodes[0].log.prompts
    assert received.graph == tiny_graph(seed=1, save="SaveImage")
    assert received.extra_data["extra_pnginfo"] == WORKFLOW
    assert received.extra_data["my_tool"] == {"job": 7}
    assert received.client_id != client.client_id

    shown = client.history(answer["prompt_id"])[answer["prompt_id"]]["prompt"][3]
    assert shown["extra_pnginfo"] == WORKFLOW and shown["my_tool"] == {"job": 7}
    assert shown["client_id"] == client.client_id
    assert isinstance(shown["create_time"], int)


def test_a_client_id_given_inside_extra_data_is_the_prompts_client(cluster: Cluster) -> None:
    """ComfyUI reads the client id from the body or from extra_data; so does the router."""
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        answer = client.request(
            "POST",
            "/prompt",
            {"prompt": tiny_graph(seed=2), "extra_data": {"client_id": client.client_id}},
        )
        frames = follow(socket, answer["prompt_id"])
    assert frames[-1]["data"] == {"node": None, "prompt_id": answer["prompt_id"]}
