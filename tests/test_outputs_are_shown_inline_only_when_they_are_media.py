"""An output is served inline only when it is an image, video or audio a browser shows without
running anything; anything else (SVG, HTML, a name with no extension) is an
`application/octet-stream` attachment. Every output answer, in the API and in the admin, forbids
scripts (`Content-Security-Policy: default-src 'none'; sandbox`) and sniffing."""

from __future__ import annotations

import pytest

from tests.support.stored_outputs import a_done_task, operator
from workflows.models import Task

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<html><script>fetch('/cluster/nodes')</script></html>"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def assert_no_scripts_and_no_sniffing(response: object) -> None:
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"  # type: ignore[index]
    assert response["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]


@pytest.fixture
def task() -> Task:
    return a_done_task(
        {"x.png": PNG, "x.svg": SVG, "x.html": HTML, "noextension": b"data"},
        {
            "x.png": "image/png",
            "x.svg": "image/svg+xml",
            "x.html": "text/html",
            "noextension": "application/octet-stream",
        },
    )


def api_output(task: Task, index: int) -> object:
    return operator().get(f"/workflow/{task.id}/outputs/{index}")


def admin_output(task: Task, index: int) -> object:
    return operator().get(f"/admin/workflows/task/{task.id}/outputs/{index}/")


@pytest.mark.parametrize("fetch", [api_output, admin_output], ids=["api", "admin"])
def test_a_png_output_is_served_inline_as_an_image(task: Task, fetch: object) -> None:
    response = fetch(task, 0)  # type: ignore[operator]
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PNG
    assert_no_scripts_and_no_sniffing(response)


@pytest.mark.parametrize("fetch", [api_output, admin_output], ids=["api", "admin"])
@pytest.mark.parametrize(
    "index, data", [(1, SVG), (2, HTML), (3, b"data")], ids=["svg", "html", "none"]
)
def test_an_output_that_is_not_media_is_an_attachment_of_no_type(
    task: Task, fetch: object, index: int, data: bytes
) -> None:
    response = fetch(task, index)  # type: ignore[operator]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == data
    assert_no_scripts_and_no_sniffing(response)


def test_the_admin_shows_thumbnails_of_images_only(task: Task) -> None:
    page = operator().get("/admin/workflows/task/").content.decode()
    assert f"/admin/workflows/task/{task.id}/outputs/0/" in page
    assert f"/admin/workflows/task/{task.id}/outputs/1/" not in page
