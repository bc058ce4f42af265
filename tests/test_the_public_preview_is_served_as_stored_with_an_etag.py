"""The public preview is answered cheaply however often it is polled: `GET /preview/{id}/image`
serves the stored preview's bytes as they are, and both it and `GET /preview/{id}` carry an ETag
that changes with what they show and `Cache-Control: no-cache`, so a poller holding the current
one gets a 304 with no body. A preview type that is not an image is served as
`application/octet-stream`, never as the node named it."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from workflows.models import Task

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"preview" * 100


def a_running_task(preview: bytes = JPEG, content_type: str = "image/jpeg") -> Task:
    return Task.objects.create(
        type="ComfyUI",
        status=Task.Status.RUNNING,
        params={},
        graph={},
        client_id=uuid.uuid4().hex,
        prompt_id=str(uuid.uuid4()),
        progress=0.25,
        preview=preview,
        preview_content_type=content_type,
    )


def image(task: Task, **headers: str) -> object:
    return Client().get(f"/preview/{task.id}/image", headers=headers)


def summary(task: Task, **headers: str) -> object:
    return Client().get(f"/preview/{task.id}", headers=headers)


def test_the_preview_image_is_the_stored_bytes_with_their_type_and_no_auth() -> None:
    answer = image(a_running_task())
    assert answer.status_code == 200
    assert answer.content == JPEG
    assert answer["Content-Type"] == "image/jpeg"
    assert answer["Cache-Control"] == "no-cache"
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["ETag"].startswith('"')


@pytest.mark.parametrize("fetch", [image, summary], ids=["image", "summary"])
def test_an_unchanged_preview_is_a_304_with_no_body(fetch: object) -> None:
    task = a_running_task()
    first = fetch(task)  # type: ignore[operator]
    assert first.status_code == 200 and first["Cache-Control"] == "no-cache"
    again = fetch(task, if_none_match=first["ETag"])  # type: ignore[operator]
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("fetch", [image, summary], ids=["image", "summary"])
def test_a_new_preview_changes_the_etag(fetch: object) -> None:
    task = a_running_task()
    first = fetch(task)  # type: ignore[operator]
    Task.objects.filter(pk=task.pk).update(preview=JPEG + b"next step")
    later = fetch(task, if_none_match=first["ETag"])  # type: ignore[operator]
    assert later.status_code == 200
    assert later["ETag"] != first["ETag"]


def test_progress_changes_the_summarys_etag_but_not_the_images() -> None:
    task = a_running_task()
    first_summary, first_image = summary(task), image(task)
    Task.objects.filter(pk=task.pk).update(progress=0.5)
    later_summary = summary(task, if_none_match=first_summary["ETag"])
    assert later_summary.status_code == 200 and later_summary.json()["progress"] == 0.5
    assert image(task, if_none_match=first_image["ETag"]).status_code == 304


def test_a_task_that_is_not_running_has_no_preview_image() -> None:
    task = a_running_task()
    Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
    answer = image(task)
    assert answer.status_code == 404
    assert summary(task).json()["preview"] is None


def test_a_preview_type_that_is_not_an_image_is_served_as_octet_stream() -> None:
    task = a_running_task(b"<script>alert(1)</script>", "text/html")
    answer = image(task)
    assert answer["Content-Type"] == "application/octet-stream"
    assert answer["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert summary(task).json()["preview"].startswith("data:application/octet-stream;base64,")
