"""The health monitor against real fake-ComfyUI servers on loopback, which the tests kill,
restart and hang."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from nodes.models import Node
from nodes.services import node_claim, node_release_claim
from tests.fake_comfyui import FakeComfyUIThread
from tests.support.nodes import (
    DEATH_BOUND,
    FAILURES,
    INTERVAL,
    fake,  # noqa: F401 (a fixture)
    health_settings,
    hold,
    node_state,
    running_monitor,
    small_timings,  # noqa: F401 (an autouse fixture)
    wait_for_status,
)

pytestmark = pytest.mark.django_db(transaction=True)
SLACK = 2.0  # event loop and SQLite latency on 2 cores busy with the suite's parallel processes


def stats_requests(fake: FakeComfyUIThread) -> int:
    return sum(1 for record in fake.log.requests if record.path.endswith("/system_stats"))


async def register(url: str, token: str = "", status: str = Node.Status.OFFLINE) -> Node:
    return await Node.objects.acreate(url=url, token=token, status=status)


async def test_a_node_that_answers_turns_idle_and_its_stats_are_stored(
    fake: FakeComfyUIThread,
) -> None:
    await register(fake.url)
    async with running_monitor():
        await wait_for_status(fake.url, "idle")
    node = await node_state(fake.url)
    assert (node.device_name, node.comfyui_version) == ("cpu", "0.8.0")
    assert node.vram_total == 25276063744 and node.vram_free == 22919528448
    assert node.system_stats["system"]["os"] == "linux"
    assert node.last_seen_at is not None and node.health_failures == 0


async def test_a_node_that_dies_goes_offline_within_failures_times_interval_plus_timeout(
    fake: FakeComfyUIThread,
) -> None:
    await register(fake.url)
    async with running_monitor():
        await wait_for_status(fake.url, "idle")
        fake.stop()
        took = await wait_for_status(fake.url, "offline", timeout=DEATH_BOUND + 3)
    assert took <= DEATH_BOUND + SLACK
    node = await node_state(fake.url)
    assert node.health_failures >= FAILURES and node.last_error


async def test_a_node_that_comes_back_turns_idle_at_its_first_answer(
    fake: FakeComfyUIThread,
) -> None:
    await register(fake.url)
    async with running_monitor():
        await wait_for_status(fake.url, "idle")
        fake.stop()
        await wait_for_status(fake.url, "offline")
        fake.restart()
        took = await wait_for_status(fake.url, "idle")
    assert took <= INTERVAL + SLACK
    assert (await node_state(fake.url)).health_failures == 0


async def test_fewer_failures_than_the_limit_keep_a_node_in_rotation(
    fake: FakeComfyUIThread,
) -> None:
    await register(fake.url)
    async with running_monitor():
        await wait_for_status(fake.url, "idle")
        fake.system_stats_status = 500
        await asyncio.sleep(INTERVAL * (FAILURES - 2) + INTERVAL / 2)
        fake.system_stats_status = None
        await hold(fake.url, 4 * INTERVAL, lambda node: node.status == "idle")


async def test_a_hung_node_does_not_slow_the_checks_of_the_others(
    fake: FakeComfyUIThread,
) -> None:
    with FakeComfyUIThread() as hung, health_settings(timeout=2.0):
        await register(fake.url)
        await register(hung.url)
        async with running_monitor():
            await wait_for_status(hung.url, "idle")
            await wait_for_status(fake.url, "idle")
            hung.hang = True
            before = stats_requests(fake)
            took = await wait_for_status(hung.url, "offline", timeout=8)
            window = 1.0
            await hold(fake.url, window, lambda node: node.status == "idle")
            checks = stats_requests(fake) - before
    # A monitor that waited for the hung node's 2-second timeout would check once per round.
    assert took <= FAILURES * INTERVAL + 2.0 + SLACK
    assert checks >= (took + window) / INTERVAL / 2


async def test_a_busy_node_is_never_made_idle_by_a_health_check(fake: FakeComfyUIThread) -> None:
    node = await register(fake.url, status=Node.Status.IDLE)
    assert await database_sync_to_async(node_claim)(node_id=node.pk)
    async with running_monitor():
        await hold(fake.url, 5 * INTERVAL, lambda node: node.status == "busy")
        fake.stop()
        await wait_for_status(fake.url, "offline")
        fake.restart()
        # Back, but its task still holds it: no second task may land on it.
        await hold(fake.url, 5 * INTERVAL, lambda node: node.status == "offline")
        await database_sync_to_async(node_release_claim)(node_id=node.pk)
        await wait_for_status(fake.url, "idle")


async def test_a_node_that_went_offline_during_its_task_stays_offline_when_the_task_ends(
    fake: FakeComfyUIThread,
) -> None:
    node = await register(fake.url, status=Node.Status.IDLE)
    assert await database_sync_to_async(node_claim)(node_id=node.pk)
    async with running_monitor():
        fake.stop()
        await wait_for_status(fake.url, "offline")
        await database_sync_to_async(node_release_claim)(node_id=node.pk, ran_model="a.safetensors")
        await hold(fake.url, 4 * INTERVAL, lambda node: node.status == "offline")
    released = await node_state(fake.url)
    assert released.held == 0 and released.last_model == "a.safetensors"


async def test_the_token_is_sent_as_a_bearer_header(fake: FakeComfyUIThread) -> None:
    fake.required_token = "s3cret"
    await register(fake.url, token="s3cret")
    async with running_monitor():
        await wait_for_status(fake.url, "idle")
    assert {r.authorization for r in fake.log.requests} == {"Bearer s3cret"}


async def test_a_node_behind_a_proxy_that_refuses_the_token_stays_offline(
    fake: FakeComfyUIThread,
) -> None:
    fake.required_token = "right"
    await register(fake.url, token="wrong")
    async with running_monitor():
        await hold(fake.url, 4 * INTERVAL, lambda node: node.status == "offline")
    assert "401" in (await node_state(fake.url)).last_error


async def test_disabled_nodes_are_not_checked(fake: FakeComfyUIThread) -> None:
    await Node.objects.acreate(url=fake.url, enabled=False)
    async with running_monitor():
        await asyncio.sleep(4 * INTERVAL)
    assert stats_requests(fake) == 0
