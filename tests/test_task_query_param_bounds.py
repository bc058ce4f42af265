from __future__ import annotations

import uuid

import pytest

from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter
from workflows.graphs import limits


def refusal(router: LiveRouter, path: str, **params: str) -> dict[str, list[str]]:
    with router.client() as client:
        response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    return dict(response.json()["detail"])


def accepted(router: LiveRouter, path: str, **params: str) -> None:
    with router.client() as client:
        response = client.get(path, params=params)
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        assert "No task" in response.json()["message"]


def test_the_page_size_may_be_the_maximum(module_router: LiveRouter) -> None:
    accepted(module_router, "/workflow", limit=str(limits.MAX_LIST_LIMIT))


def test_a_page_size_over_the_maximum_is_refused_naming_it(module_router: LiveRouter) -> None:
    detail = refusal(module_router, "/workflow", limit=str(limits.MAX_LIST_LIMIT + 1))
    assert str(limits.MAX_LIST_LIMIT) in detail["limit"][0]


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1e3", "99999999999999999999999"])
def test_a_page_size_that_is_not_a_positive_integer_is_refused(
    module_router: LiveRouter, value: str
) -> None:
    assert "limit" in refusal(module_router, "/workflow", limit=value)


def test_the_offset_may_be_the_maximum(module_router: LiveRouter) -> None:
    accepted(module_router, "/workflow", offset=str(limits.MAX_LIST_OFFSET))


def test_an_offset_over_the_maximum_is_refused_naming_it(module_router: LiveRouter) -> None:
    detail = refusal(module_router, "/workflow", offset=str(limits.MAX_LIST_OFFSET + 1))
    assert str(limits.MAX_LIST_OFFSET) in detail["offset"][0]


def test_an_unknown_status_filter_is_refused_naming_it(module_router: LiveRouter) -> None:
    detail = refusal(module_router, "/workflow", status="finished")
    assert "finished" in detail["status"][0]


def test_include_accepts_data_and_refuses_anything_else(module_router: LiveRouter) -> None:
    task = f"/workflow/{uuid.uuid4()}"
    accepted(module_router, task, include="data")
    assert "include" in refusal(module_router, task, include="everything")


@pytest.mark.parametrize(
    "path", ["/workflow/not-a-uuid", "/workflow/1", "/preview/../admin", f"/workflow/{'a' * 5000}"]
)
def test_a_malformed_task_id_in_the_path_is_a_json_404(module_router: LiveRouter, path: str) -> None:
    with module_router.client() as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.json()["message"]


def test_an_output_index_beyond_any_integer_is_a_json_404(module_router: LiveRouter) -> None:
    with module_router.client() as client:
        response = client.get(f"/workflow/{uuid.uuid4()}/outputs/{'9' * 400}")
    assert response.status_code == 404
    assert response.json()["message"]


def test_the_page_is_cut_by_the_limit_and_offset_as_validated(module_router: LiveRouter) -> None:
    """`limit=1.0` passes as 1: the page and its next link use 1, not the default size."""
    with module_router.client() as client:
        for seed in range(3):
            response = client.post("/workflow", json=comfyui_body(tiny_graph(seed)))
            assert response.status_code == 202, response.text
        page = client.get("/workflow", params={"limit": "1.0", "offset": "1.0"}).json()
    assert len(page["results"]) == 1
    assert "limit=1&" in page["next"] + "&" and "offset=2" in page["next"]
