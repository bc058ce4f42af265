"""ComfyUI's `POST /upload/mask` stores, under the mask's name, the image `original_ref` names
(`{filename, subfolder, type}`: an input file, or a task's output by the front door's naming) with
the mask's alpha channel, as a PNG keeping the original's text chunks (the workflow a ComfyUI
PNG carries), as ComfyUI's mask editor expects."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from PIL import Image

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.comfy_uploads import png, upload
from tests.support.live_router import LiveRouter


def half_transparent_mask(width: int = 8, height: int = 8) -> bytes:
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


def upload_mask(client: httpx.Client, mask: bytes, original_ref: dict[str, str],
                **fields: str) -> httpx.Response:
    return upload(client, mask, name="clipspace-mask.png", route="/upload/mask",
                  original_ref=json.dumps(original_ref), **fields)


@pytest.fixture
def client(module_router: LiveRouter) -> Iterator[httpx.Client]:
    with module_router.client() as client:
        yield client


def test_an_input_image_gets_the_masks_alpha_and_keeps_its_text(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    original = png(color=(200, 100, 50), text={"workflow": '{"nodes": []}'})
    assert upload(client, original, name="orig.png", subfolder="clipspace").status_code == 200
    ref = {"filename": "orig.png", "subfolder": "clipspace", "type": "input"}
    answer = upload_mask(client, half_transparent_mask(), ref, subfolder="clipspace",
                         type="input")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "clipspace-mask.png", "subfolder": "clipspace",
                             "type": "input"}
    stored = module_router.root_dir / "input" / "clipspace" / "clipspace-mask.png"
    with Image.open(stored) as result:
        assert result.format == "PNG" and result.mode == "RGBA"
        assert result.getpixel((0, 0)) == (200, 100, 50, 0)
        assert result.getpixel((7, 7)) == (200, 100, 50, 255)
        assert result.text == {"workflow": '{"nodes": []}'}


def test_the_same_mask_again_keeps_its_name_and_another_is_numbered(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    upload(client, png(color=(9, 8, 7)), name="base.png", subfolder="again")
    ref = {"filename": "base.png", "subfolder": "again", "type": "input"}
    first = upload_mask(client, half_transparent_mask(), ref, subfolder="again")
    same = upload_mask(client, half_transparent_mask(), ref, subfolder="again")
    other = upload_mask(client, png(mode="RGBA", color=(0, 0, 0, 9)), ref, subfolder="again")
    assert [a.json()["name"] for a in (first, same, other)] == [
        "clipspace-mask.png", "clipspace-mask.png", "clipspace-mask (1).png"
    ]


def test_a_mask_of_another_size_is_a_400(client: httpx.Client, module_router: LiveRouter) -> None:
    upload(client, png(16, 16), name="big.png", subfolder="sizes")
    ref = {"filename": "big.png", "subfolder": "sizes", "type": "input"}
    answer = upload_mask(client, half_transparent_mask(8, 8), ref, subfolder="sizes")
    assert answer.status_code == 400
    assert list(answer.json()["detail"]) == ["image"]
    assert not (module_router.root_dir / "input" / "sizes" / "clipspace-mask.png").exists()


def test_a_tasks_output_can_be_the_original(cluster_factory: Callable[..., Cluster]) -> None:
    cluster = cluster_factory(nodes=1)
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=3)))
    assert cluster.wait_for(task_id)["status"] == "done"
    (stored,) = (cluster.router.data_dir / "outputs" / task_id).iterdir()
    with Image.open(stored) as output:
        size = output.size
    ref = {"filename": stored.name, "subfolder": task_id, "type": "output"}
    with cluster.client() as client:
        answer = upload_mask(client, half_transparent_mask(*size), ref, subfolder="clipspace")
    assert answer.status_code == 200, answer.text
    result = cluster.router.root_dir / "input" / "clipspace" / answer.json()["name"]
    with Image.open(result) as masked:
        assert masked.mode == "RGBA" and masked.size == size
        assert masked.getpixel((0, 0))[3] == 0
