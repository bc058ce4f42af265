"""Helpers for the node tests: the in-process health monitor with small timings, and waiting.

A module that imports the fixtures `small_timings` (autouse: every test in it runs with the small
health timings) and `fake` (a fake ComfyUI node) has them as its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings

from nodes import health
from nodes.models import Node
from tests.fake_comfyui import FakeComfyUIThread

INTERVAL, TIMEOUT, FAILURES = 0.1, 0.5, 3
DEATH_BOUND = FAILURES * INTERVAL + TIMEOUT


def health_settings(
    interval: float = INTERVAL, timeout: float = TIMEOUT, failures: int = FAILURES
) -> override_settings:
    router = replace(
        settings.ROUTER,
        health_interval=interval,
        health_timeout=timeout,
        health_failures=failures,
    )
    return override_settings(ROUTER=router)


@pytest.fixture(autouse=True)
def small_timings() -> Iterator[None]:
    with health_settings():
        yield


@pytest.fixture
def fake() -> Iterator[FakeComfyUIThread]:
    with FakeComfyUIThread() as server:
        yield server


@asynccontextmanager
async def running_monitor() -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(health.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


@database_sync_to_async
def node_state(url: str) -> Node:
    return Node.objects.get(url=url)


async def wait_for_status(url: str, status: str, timeout: float = 5.0) -> float:
    """Seconds it took the node to reach `status`; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (await node_state(url)).status == status:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    last = (await node_state(url)).status
    raise AssertionError(f"{url} is {last}, not {status}, after {timeout}s")


async def hold(url: str, seconds: float, check: Callable[[Node], bool]) -> None:
    """Asserts `check` holds for the node during the whole time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        node = await node_state(url)
        assert check(node), f"{url}: status {node.status}"
        await asyncio.sleep(0.02)
