"""A malformed, unknown or revoked key, or the key of a disabled client, is one and the same 401
in the API's error shape: nothing tells whether a key exists. Revoking takes effect at once."""

from __future__ import annotations

import sqlite3

import httpx

from tests.support.clients import client_with_key, create_api_key, key_client
from tests.support.live_router import LiveRouter


def refusal(router: LiveRouter, key: str) -> tuple[int, dict[str, object], str]:
    response = httpx.get(router.url + "/workflow", headers={"Authorization": f"Bearer {key}"})
    return response.status_code, response.json(), response.headers.get("WWW-Authenticate", "")


def revoke(router: LiveRouter, key: str) -> None:
    with sqlite3.connect(router.data_dir / "router.sqlite3") as database:
        database.execute(
            "UPDATE clients_apikey SET revoked_at = CURRENT_TIMESTAMP WHERE ? LIKE prefix || '%'",
            [key],
        )


def test_revoked_unknown_malformed_and_disabled_keys_get_the_same_answer(
    live_router: LiveRouter,
) -> None:
    revoked = client_with_key(live_router, "team-a")
    kept = create_api_key(live_router, "team-a")
    with key_client(live_router, revoked) as client:
        assert client.get("/workflow").status_code == 200
    revoke(live_router, revoked)

    disabled = client_with_key(live_router, "team-b")
    with sqlite3.connect(live_router.data_dir / "router.sqlite3") as database:
        database.execute("UPDATE clients_client SET enabled = 0 WHERE name = 'team-b'")

    unknown = "cr_" + "A" * 43
    answers = {
        name: refusal(live_router, key)
        for name, key in {
            "revoked": revoked,
            "disabled": disabled,
            "unknown": unknown,
            "malformed": "not-a-key",
            "too long": revoked + "x",
        }.items()
    }
    first = answers["unknown"]
    assert first[0] == 401
    assert set(first[1]) == {"message", "detail"}
    for name, answer in answers.items():
        assert answer == first, name
    as_token = httpx.get(live_router.url + "/workflow", params={"token": revoked})
    assert (as_token.status_code, as_token.json()) == first[:2]
    with key_client(live_router, kept) as client:
        assert client.get("/workflow").status_code == 200  # revoking one key leaves the others


def test_an_empty_bearer_or_token_is_a_401(live_router: LiveRouter) -> None:
    bare = httpx.get(live_router.url + "/workflow", headers={"Authorization": "Bearer"})
    assert bare.status_code == 401
    assert httpx.get(live_router.url + "/workflow", params={"token": ""}).status_code == 401
