"""`GET /workflow/{id}?include=data` carries the outputs' bytes only while they take at most
16 MiB in all; past that it is a 400 on `include` that says to fetch each output from its URL."""

from __future__ import annotations

import base64

import pytest

from tests.support.stored_outputs import a_done_task, operator

pytestmark = pytest.mark.django_db

SIXTEEN_MIB = 16 * 1024 * 1024
HALF = SIXTEEN_MIB // 2


def test_outputs_of_16_mib_in_all_come_with_their_data() -> None:
    task = a_done_task(
        {"a.png": b"a" * HALF, "b.png": b"b" * HALF}, {"a.png": "image/png", "b.png": "image/png"}
    )
    answer = operator().get(f"/workflow/{task.id}", {"include": "data"})
    assert answer.status_code == 200
    first, second = answer.json()["outputs"]
    assert base64.b64decode(first["data"]) == b"a" * HALF
    assert base64.b64decode(second["data"]) == b"b" * HALF


def test_outputs_past_16_mib_in_all_are_a_400_that_points_to_their_urls() -> None:
    task = a_done_task(
        {"a.png": b"a" * HALF, "b.png": b"b" * (HALF + 1)},
        {"a.png": "image/png", "b.png": "image/png"},
    )
    answer = operator().get(f"/workflow/{task.id}", {"include": "data"})
    assert answer.status_code == 400
    body = answer.json()
    assert list(body["detail"]) == ["include"]
    assert "16.0 MiB" in body["message"] and "url" in body["message"]


def test_without_include_data_large_outputs_are_listed_with_their_urls() -> None:
    task = a_done_task({"big.mp4": b"v" * (SIXTEEN_MIB + 1)}, {"big.mp4": "video/mp4"})
    answer = operator().get(f"/workflow/{task.id}")
    assert answer.status_code == 200
    [output] = answer.json()["outputs"]
    assert output["size"] == SIXTEEN_MIB + 1
    assert output["url"].endswith(f"/workflow/{task.id}/outputs/0")
    assert "data" not in output
