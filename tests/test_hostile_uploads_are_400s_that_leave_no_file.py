"""Whatever a client sends to ComfyUI's upload routes, a refusal is a 400 naming the cause (a 413
past the request body's limit), never a 500, and leaves no file behind, in the input folder or
anywhere else: paths in the subfolder or the file name, bodies that are no multipart form, forms
without an image, files that are no image or too large, hidden names, other folder types."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.comfy_uploads import png, upload
from tests.support.live_router import LiveRouter


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRouter]:
    started = LiveRouter(
        base_dir=tmp_path_factory.mktemp("router"),
        env_overrides={"COMFY_ROUTER__MAX_REQUEST_BYTES": "20MiB"},
    ).start()
    yield started
    started.stop()


@pytest.fixture
def client(router: LiveRouter) -> Iterator[httpx.Client]:
    with router.client() as client:
        yield client


def every_file(router: LiveRouter) -> set[str]:
    """Every file and folder the router's process may have written, but its database and log."""
    found = set()
    for folder, folders, files in os.walk(router.base_dir):
        for name in folders + files:
            path = Path(folder, name)
            if path.parent == router.data_dir or path.suffix == ".log":
                continue
            if path == router.root_dir / "input":  # made by the first upload, and kept
                continue
            found.add(str(path.relative_to(router.base_dir)))
    return found


@pytest.fixture
def leaves_nothing(router: LiveRouter) -> Iterator[None]:
    before = every_file(router)
    yield
    assert every_file(router) - before == set()


def refused_field(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["message"]
    return sorted(body["detail"])


@pytest.mark.parametrize(
    "subfolder", ["../escaped", "/tmp/absolute", "a/../../escaped", "..", "a\\..\\b", "a\x00b"]
)
def test_a_subfolder_leading_out_of_input_is_a_400(
    client: httpx.Client, leaves_nothing: None, subfolder: str
) -> None:
    assert refused_field(upload(client, png(), subfolder=subfolder)) == ["subfolder"]


@pytest.mark.parametrize("name", ["../escaped.png", "a/b.png", "..\\escaped.png", "..", "x&#47;y.png"])
def test_a_file_name_that_is_a_path_is_a_400(
    client: httpx.Client, leaves_nothing: None, name: str
) -> None:
    assert refused_field(upload(client, png(), name=name)) == ["body"]


@pytest.mark.parametrize("name", [".hidden.png", ".upload-0123456789abcdef.part"])
def test_a_hidden_file_name_is_a_400(client: httpx.Client, leaves_nothing: None, name: str) -> None:
    """Hidden names are the router's own staged files, which `/view` never serves."""
    assert refused_field(upload(client, png(), name=name)) == ["image"]


def test_a_file_name_too_long_for_a_file_system_is_a_400(
    client: httpx.Client, leaves_nothing: None
) -> None:
    assert refused_field(upload(client, png(), name="x" * 250 + ".png")) == ["image"]


def test_a_subfolder_through_an_existing_file_is_a_400(
    client: httpx.Client, router: LiveRouter
) -> None:
    assert upload(client, png(), name="blocker.png").status_code == 200
    before = every_file(router)
    assert refused_field(upload(client, png(), subfolder="blocker.png/inside")) == ["subfolder"]
    assert every_file(router) == before


def test_a_file_that_is_no_image_is_a_400(client: httpx.Client, leaves_nothing: None) -> None:
    assert refused_field(upload(client, b"#!/bin/sh\necho hi\n", name="run.png")) == ["image"]
    assert refused_field(upload(client, b"", name="empty.png")) == ["image"]


def test_an_image_past_16_mib_is_a_400(client: httpx.Client, leaves_nothing: None) -> None:
    answer = upload(client, png() + b"\0" * (16 * 1024 * 1024), name="huge.png")
    assert refused_field(answer) == ["body"]
    assert "16777216" in answer.json()["message"]


def test_a_body_past_the_request_limit_is_a_413(
    client: httpx.Client, leaves_nothing: None
) -> None:
    answer = upload(client, b"\0" * (21 * 1024 * 1024), name="huger.png")
    assert answer.status_code == 413


def test_a_form_without_an_image_is_a_400(client: httpx.Client, leaves_nothing: None) -> None:
    answer = client.post("/upload/image", files={"other": ("x.png", png())}, data={"type": "input"})
    assert refused_field(answer) == ["image"]
    no_file = client.post("/upload/image", data={"image": "not a file"}, files={"f": ("", b"")})
    assert refused_field(no_file) == ["image"]


@pytest.mark.parametrize(
    "request_body",
    [
        {"json": {"image": "x.png"}},
        {"data": {"image": "x.png"}},
        {"content": b"--x\r\nno headers", "headers": {"Content-Type": "multipart/form-data"}},
        {
            "content": b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\""
            b"\r\n\r\n\x89PNG",  # cut off: no closing boundary
            "headers": {"Content-Type": "multipart/form-data; boundary=b"},
        },
        {},
    ],
    ids=["json", "url-encoded", "no-boundary", "truncated", "empty"],
)
def test_a_body_that_is_no_multipart_form_is_a_400(
    client: httpx.Client, leaves_nothing: None, request_body: dict[str, object]
) -> None:
    answer = client.post("/upload/image", **request_body)  # type: ignore[arg-type]
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("folder_type", ["output", "temp", "models"])
def test_an_upload_to_another_folder_than_input_is_a_400(
    client: httpx.Client, leaves_nothing: None, folder_type: str
) -> None:
    assert refused_field(upload(client, png(), type=folder_type)) == ["type"]


@pytest.mark.parametrize(
    "original_ref",
    [
        None,
        "not json",
        "[]",
        '{"subfolder": ""}',
        '{"filename": "../../etc/passwd", "type": "input"}',
        '{"filename": "x.png", "subfolder": "../..", "type": "input"}',
        '{"filename": "missing.png", "type": "input"}',
        '{"filename": "x.png", "type": "elsewhere"}',
        '{"filename": "000-output_000.png", "subfolder": "not-a-task", "type": "output"}',
        "[" * 3000 + "]" * 3000,
    ],
)
def test_a_mask_without_a_usable_original_is_a_400(
    client: httpx.Client, leaves_nothing: None, original_ref: str | None
) -> None:
    fields = {} if original_ref is None else {"original_ref": original_ref}
    answer = upload(client, png(mode="RGBA", color=(0, 0, 0, 0)), name="mask.png",
                    route="/upload/mask", **fields)
    assert refused_field(answer) == ["original_ref"]


def test_a_form_of_too_many_fields_or_files_is_a_400(
    client: httpx.Client, leaves_nothing: None
) -> None:
    image = {"image": ("many.png", png())}
    many_fields = client.post("/upload/image", files=image, data={f"f{i}": "x" for i in range(1200)})
    assert refused_field(many_fields) == ["body"]
    many_files = [("image", ("first.png", png()))] + [("x", (f"{i}.png", b"x")) for i in range(150)]
    assert refused_field(client.post("/upload/image", files=many_files)) == ["body"]


def test_a_part_in_base64_that_is_not_is_a_400(client: httpx.Client, leaves_nothing: None) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n!!not base64!!\r\n--b--\r\n"
    )
    answer = client.post(
        "/upload/image", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert refused_field(answer) == ["body"]
