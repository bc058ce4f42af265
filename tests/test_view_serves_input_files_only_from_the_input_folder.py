"""ComfyUI's `GET /view?type=input` serves files of DOWNLOAD__ROOT_DIR/input: uploads, and what the
router put there, links into its download cache included; nothing that resolves elsewhere, no
hidden temp file. Files are served under the outputs' rules: media inline, anything else as an
attachment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.comfy_uploads import png, upload
from tests.support.live_router import LiveRouter


@pytest.fixture
def client(module_router: LiveRouter) -> Iterator[httpx.Client]:
    with module_router.client() as client:
        yield client


def input_folder(router: LiveRouter) -> Path:
    folder = router.root_dir / "input"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def view(client: httpx.Client, filename: str, subfolder: str = "") -> httpx.Response:
    return client.get("/view", params={"filename": filename, "subfolder": subfolder,
                                       "type": "input"})


def test_an_upload_is_served_back(client: httpx.Client) -> None:
    image = png(color=(10, 20, 30))
    assert upload(client, image, name="back.png", subfolder="a/b").status_code == 200
    answer = view(client, "back.png", "a/b")
    assert answer.status_code == 200
    assert answer.content == image
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_an_annotated_name_picks_its_folder(client: httpx.Client) -> None:
    image = png(color=(11, 21, 31))
    upload(client, image, name="annotated.png")
    answer = client.get("/view", params={"filename": "annotated.png [input]", "type": "output"})
    assert answer.status_code == 200 and answer.content == image


def test_a_link_into_the_download_cache_is_served(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    cached = module_router.cache_dir / "0123abcd.png"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(png(color=(5, 6, 7)))
    (input_folder(module_router) / "0123abcd.png").symlink_to(cached)
    answer = view(client, "0123abcd.png")
    assert answer.status_code == 200 and answer.content == cached.read_bytes()


def test_a_link_out_of_input_and_the_cache_is_a_403(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    secret = module_router.base_dir / "secret.png"
    secret.write_bytes(png(color=(1, 1, 1)))
    (input_folder(module_router) / "leak.png").symlink_to(secret)
    outside = module_router.base_dir / "elsewhere"
    outside.mkdir()
    (outside / "x.png").write_bytes(png())
    (input_folder(module_router) / "elsewhere").symlink_to(outside, target_is_directory=True)
    assert view(client, "leak.png").status_code == 403
    assert view(client, "x.png", "elsewhere").status_code == 403


def test_paths_and_hidden_files_are_refused(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    (input_folder(module_router) / ".upload-0123456789abcdef.part").write_bytes(b"partial")
    assert view(client, ".upload-0123456789abcdef.part").status_code == 404
    assert view(client, "../secret.png").status_code == 400
    assert view(client, "secret.png", "..").status_code == 403
    assert view(client, "passwd", "/etc").status_code == 403
    assert view(client, "nothing-here.png").status_code == 404
    assert view(client, "x" * 5000 + ".png").status_code == 404


def test_a_file_that_is_no_media_is_an_attachment(
    client: httpx.Client, module_router: LiveRouter
) -> None:
    (input_folder(module_router) / "page.svg").write_text("<svg onload='alert(1)'/>")
    answer = view(client, "page.svg")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
