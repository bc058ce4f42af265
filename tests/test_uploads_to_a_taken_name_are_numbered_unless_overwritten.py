"""A name already taken by other bytes gets ComfyUI's ` (n)` numbering; the very same bytes get
the same name back with no copy; `overwrite` ("true" or "1", as ComfyUI reads it) replaces."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.comfy_uploads import png, upload
from tests.support.live_router import LiveRouter


@pytest.fixture
def client(module_router: LiveRouter) -> Iterator[httpx.Client]:
    with module_router.client() as client:
        yield client


def folder(router: LiveRouter, subfolder: str) -> Path:
    return router.root_dir / "input" / subfolder


def names(router: LiveRouter, subfolder: str) -> list[str]:
    return sorted(p.name for p in folder(router, subfolder).iterdir())


def test_other_bytes_under_a_taken_name_are_numbered(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    images = [png(color=(i, 0, 0)) for i in range(3)]
    answers = [upload(client, image, name="clash.png", subfolder="numbered") for image in images]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["name"] for a in answers] == ["clash.png", "clash (1).png", "clash (2).png"]
    for answer, image in zip(answers, images):
        assert (folder(module_router, "numbered") / answer.json()["name"]).read_bytes() == image


def test_the_same_bytes_get_the_same_name_and_no_copy(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    image = png(color=(9, 9, 9))
    first = upload(client, image, name="same.png", subfolder="same")
    again = upload(client, image, name="same.png", subfolder="same", overwrite="false")
    assert first.json() == again.json() == {"name": "same.png", "subfolder": "same", "type": "input"}
    assert names(module_router, "same") == ["same.png"]


def test_same_bytes_as_a_numbered_copy_get_that_copys_name(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    first, second = png(color=(1, 1, 1)), png(color=(2, 2, 2))
    upload(client, first, name="n.png", subfolder="renamed")
    assert upload(client, second, name="n.png", subfolder="renamed").json()["name"] == "n (1).png"
    assert upload(client, second, name="n.png", subfolder="renamed").json()["name"] == "n (1).png"
    assert names(module_router, "renamed") == ["n (1).png", "n.png"]


@pytest.mark.parametrize("flag", ["true", "1"])
def test_overwrite_replaces_the_file_under_its_name(
    client: httpx.Client, module_router: LiveRouter, flag: str
) -> None:
    subfolder = f"overwrite-{flag}"
    upload(client, png(color=(50, 0, 0)), name="o.png", subfolder=subfolder)
    replacement = png(color=(0, 50, 0))
    answer = upload(client, replacement, name="o.png", subfolder=subfolder, overwrite=flag)
    assert answer.json() == {"name": "o.png", "subfolder": subfolder, "type": "input"}
    assert (folder(module_router, subfolder) / "o.png").read_bytes() == replacement
    assert names(module_router, subfolder) == ["o.png"]


def test_other_overwrite_values_number_as_comfyui_does(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    upload(client, png(color=(70, 0, 0)), name="t.png", subfolder="truthy")
    answer = upload(client, png(color=(0, 70, 0)), name="t.png", subfolder="truthy",
                    overwrite="True")
    assert answer.json()["name"] == "t (1).png"


def test_a_link_the_router_keeps_in_input_is_not_overwritten(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    cached = module_router.cache_dir / "linked-by-the-router.png"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(png(color=(3, 3, 3)))
    link = folder(module_router, "") / "cached.png"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(cached)
    answer = upload(client, png(color=(4, 4, 4)), name="cached.png", overwrite="true")
    assert answer.status_code == 400
    assert "image" in answer.json()["detail"]
    assert link.is_symlink() and cached.read_bytes() == png(color=(3, 3, 3))


def test_concurrent_uploads_of_one_name_never_replace_each_other(
    module_router: LiveRouter,
) -> None:
    images = [png(color=(i, 100, 100)) for i in range(8)]

    def send(image: bytes) -> str:
        with module_router.client() as client:
            answer = upload(client, image, name="race.png", subfolder="race")
        assert answer.status_code == 200, answer.text
        return str(answer.json()["name"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(send, images))
    assert len(set(taken)) == 8
    for name, image in zip(taken, images):
        assert (folder(module_router, "race") / name).read_bytes() == image
