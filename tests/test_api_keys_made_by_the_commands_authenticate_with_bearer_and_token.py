"""`create_client` and `create_api_key` make a key that the API takes as `Authorization: Bearer`
or as `?token=`; the command prints the key and nothing else, and only its digest is stored."""

from __future__ import annotations

import sqlite3

import httpx

from tests.support.clients import create_client, key_client, manage
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter


def test_create_api_key_prints_the_key_alone_and_stores_only_its_digest(
    live_router: LiveRouter,
) -> None:
    create_client(live_router, "team-a", "--priority", "5", "--pending-limit", "3")
    made = manage(live_router, "create_api_key", "team-a")
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1
    key = lines[0]
    assert key.startswith("cr_") and len(key) >= 43
    with sqlite3.connect(live_router.data_dir / "router.sqlite3") as database:
        stored = database.execute("SELECT prefix, digest FROM clients_apikey").fetchall()
        client = database.execute(
            "SELECT name, priority, pending_limit, enabled FROM clients_client"
        ).fetchall()
    assert client == [("team-a", 5, 3, 1)]
    [(prefix, digest)] = stored
    assert key.startswith(prefix) and len(prefix) < 16
    assert key not in digest and len(digest) == 64


def test_a_key_authenticates_as_a_bearer_token_and_as_a_token_parameter(
    live_router: LiveRouter,
) -> None:
    create_client(live_router, "team-a")
    key = manage(live_router, "create_api_key", "team-a").stdout.strip()
    with key_client(live_router, key) as client:
        submitted = client.post("/workflow", json=comfyui_body(tiny_graph(1)))
        assert submitted.status_code == 202, submitted.text
        assert client.get("/workflow").status_code == 200
    task_id = submitted.json()["id"]
    by_token = httpx.get(f"{live_router.url}/workflow/{task_id}", params={"token": key})
    assert by_token.status_code == 200, by_token.text
    assert by_token.json()["id"] == task_id
    assert httpx.get(f"{live_router.url}/workflow", params={"token": key}).status_code == 200


def test_the_commands_refuse_an_unknown_client_and_a_taken_name(live_router: LiveRouter) -> None:
    unknown = manage(live_router, "create_api_key", "nobody")
    assert unknown.returncode != 0 and unknown.stdout == ""
    assert "nobody" in unknown.stderr
    create_client(live_router, "team-a")
    again = manage(live_router, "create_client", "team-a")
    assert again.returncode != 0 and "name" in again.stderr
    too_low = manage(live_router, "create_client", "team-b", "--pending-limit", "0")
    assert too_low.returncode != 0 and "pending_limit" in too_low.stderr
