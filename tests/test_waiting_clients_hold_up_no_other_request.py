"""Clients waiting on a task (`?wait=`, the event stream) hold no request thread: a hundred of
them leave `/health_check` and the rest of the API answering at once, and they are answered when
the task ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx

from tests.support.cluster import Cluster, comfyui_body, sampler_graph
from tests.support.live_router import CREDENTIALS, TLS

LONG_POLLS, SUBMISSIONS, STREAMS = 50, 30, 20


async def final_event(client: httpx.AsyncClient, task_id: str) -> dict:
    async with client.stream("GET", f"/workflow/{task_id}/events") as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["type"] == "finished":
                return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended without its final event")


async def test_a_hundred_waiting_clients_leave_the_health_check_answering_quickly(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, COMFY_ROUTER__PENDING_LIMIT="100")
    cluster.nodes[0].step_delay = 1.0
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=40, steps=60)))
    room = LONG_POLLS + SUBMISSIONS + STREAMS + 10
    limits = httpx.Limits(max_connections=room, max_keepalive_connections=room)
    async with httpx.AsyncClient(
        base_url=cluster.router.url, auth=CREDENTIALS, verify=TLS, limits=limits, timeout=60
    ) as client:
        long_polls = [
            asyncio.ensure_future(client.get(f"/workflow/{task_id}", params={"wait": "60"}))
            for _ in range(LONG_POLLS)
        ]
        streams = [asyncio.ensure_future(final_event(client, task_id)) for _ in range(STREAMS)]
        submissions = [
            asyncio.ensure_future(
                client.post(
                    "/workflow",
                    params={"wait": "60"},
                    json=comfyui_body(sampler_graph(seed=41 + n, steps=60)),
                )
            )
            for n in range(SUBMISSIONS)
        ]
        await asyncio.sleep(3)  # every client is waiting
        assert not any(waiter.done() for waiter in long_polls + streams + submissions)

        for _ in range(5):
            started = time.monotonic()
            health = await client.get("/health_check")
            task = await client.get(f"/workflow/{task_id}")
            assert health.status_code == 200 and task.status_code == 200
            # Held up, they would wait for a waiter to end (60 s); a loaded machine may take
            # a second or more to answer at all (1.07 s once, under a full suite).
            assert time.monotonic() - started < 10.0

        assert (await client.delete(f"/workflow/{task_id}")).status_code == 200
        answers = await asyncio.wait_for(asyncio.gather(*long_polls), 20)
        assert {answer.json()["status"] for answer in answers} == {"cancelled"}
        finals = await asyncio.wait_for(asyncio.gather(*streams), 20)
        assert {final["status"] for final in finals} == {"cancelled"}
        for submission in submissions:
            submission.cancel()
        await asyncio.gather(*submissions, return_exceptions=True)
