"""ComfyUI's `POST /upload/image` puts the image in the input folder every node reads, answering
`{name, subfolder, type}` as ComfyUI does: `subfolder/name` is at once a LoadImage input of a
graph posted to the router. ComfyUI serves its routes at `/api/...` too, and so does the router."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cluster import Cluster, comfyui_body
from tests.support.comfy_uploads import png, upload
from tests.support.live_router import LiveRouter


def test_an_uploaded_image_runs_as_a_loadimage_input(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1)
    with cluster.client() as client:
        answer = upload(client, png(80, 60), subfolder="peer", type="input", overwrite="true")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "uploaded.png", "subfolder": "peer", "type": "input"}

    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "peer/uploaded.png"}},
        "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
    }
    task = cluster.wait_for(cluster.submit(comfyui_body(graph)))
    assert task["status"] == "done", task
    assert len(task["outputs"]) == 1


def test_an_upload_without_subfolder_or_type_lands_in_the_input_folder(
    module_router: LiveRouter,
) -> None:
    image = png(color=(1, 2, 3))
    with module_router.client() as client:
        answer = upload(client, image, name="plain.png")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "plain.png", "subfolder": "", "type": "input"}
    assert (module_router.root_dir / "input" / "plain.png").read_bytes() == image


def test_the_upload_routes_answer_under_api_too(module_router: LiveRouter) -> None:
    image = png(color=(4, 5, 6))
    with module_router.client() as client:
        answer = upload(client, image, name="via_api.png", route="/api/upload/image",
                        subfolder="api")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "via_api.png", "subfolder": "api", "type": "input"}
    assert (module_router.root_dir / "input" / "api" / "via_api.png").read_bytes() == image


def test_an_upload_needs_credentials(module_router: LiveRouter) -> None:
    with module_router.client(auth=None) as client:
        answer = upload(client, png(), name="anonymous.png")
    assert answer.status_code == 401
    assert not (module_router.root_dir / "input" / "anonymous.png").exists()


def test_only_the_first_image_of_a_form_is_taken(module_router: LiveRouter) -> None:
    first, second = png(color=(7, 0, 0)), png(color=(0, 7, 0))
    files = [("image", ("first.png", first)), ("image", ("second.png", second))]
    with module_router.client() as client:
        answer = client.post("/upload/image", files=files, data={"subfolder": "two"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "first.png"
    folder = module_router.root_dir / "input" / "two"
    assert [p.name for p in folder.iterdir()] == ["first.png"]
    assert (folder / "first.png").read_bytes() == first
