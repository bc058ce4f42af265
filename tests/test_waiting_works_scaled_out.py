"""Scaled out, a client waiting on an API process hears the task's events from the worker that
runs it, through the Redis channel layer: `?wait=` answers with the finished task, and the event
stream carries the run's progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backing_services import (  # noqa: F401
    PostgresServer,
    RedisServer,
    postgres_server,
    redis_server,
)
from tests.support.cluster import comfyui_body, sampler_graph
from tests.support.scale_out import RouterProcess, one_api_one_worker_one_node


@pytest.fixture
def api(
    tmp_path: Path,
    postgres_server: PostgresServer,  # noqa: F811
    redis_server: RedisServer,  # noqa: F811
) -> Iterator[RouterProcess]:
    with one_api_one_worker_one_node(
        tmp_path / "shared", postgres_server, redis_server, "waiting_scaled_out", step_delay=0.1
    ) as (api, _):
        yield api


def test_a_waiting_submission_and_an_event_stream_hear_the_worker(api: RouterProcess) -> None:
    with api.client() as client:
        waited = client.post(
            "/workflow", params={"wait": "60"}, json=comfyui_body(sampler_graph(seed=60, steps=10))
        )
        assert waited.status_code == 200, waited.text
        assert waited.json()["status"] == "done"

        task_id = client.post("/workflow", json=comfyui_body(sampler_graph(seed=61, steps=10)))
        events = []
        with client.stream("GET", f"/workflow/{task_id.json()['id']}/events") as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: ") :]))
    types = [event["type"] for event in events]
    assert "progress" in types
    assert types[-1] == "finished" and events[-1]["status"] == "done"
