from __future__ import annotations

from tests.support.live_router import LiveRouter

MAX_NODE_URL_LENGTH = 500
PREFIX = "http://127.0.0.1:9/"  # nothing listens on the discard port: the node is only registered


def url_of_length(length: int) -> str:
    return PREFIX + "p" * (length - len(PREFIX))


def test_a_node_url_may_be_as_long_as_the_limit(module_router: LiveRouter) -> None:
    with module_router.client() as client:
        response = client.post("/cluster/nodes", json={"url": url_of_length(MAX_NODE_URL_LENGTH)})
        assert response.status_code in (200, 201), response.text
        client.post("/cluster/nodes/delete", json={"url": url_of_length(MAX_NODE_URL_LENGTH)})


def test_a_node_url_one_character_too_long_is_refused_naming_the_limit(
    module_router: LiveRouter,
) -> None:
    with module_router.client() as client:
        response = client.post(
            "/cluster/nodes", json={"url": url_of_length(MAX_NODE_URL_LENGTH + 1)}
        )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert str(MAX_NODE_URL_LENGTH) in detail["url"][0]
