"""A row the health check cannot even send a request for (a token or URL stored before today's
rules) counts as a failed check, as does any unexpected error in the check: such a node goes
offline and stays there, instead of raising on every interval while it still takes tasks."""

from __future__ import annotations

import logging

import pytest

from nodes import health
from nodes.models import Node
from nodes.probe import new_client, probe_node
from tests.fake_comfyui import FakeComfyUIThread
from tests.support.nodes import (  # noqa: F401 (fake and small_timings are fixtures)
    DEATH_BOUND,
    fake,
    node_state,
    running_monitor,
    small_timings,
    wait_for_status,
)

pytestmark = pytest.mark.django_db(transaction=True)
BAD_TOKENS = ["tök", "a\nb", "a\x00b"]
UNUSABLE_URLS = ["http://999.999.999.999", "http://ex\N{GRINNING FACE}.com"]


def health_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "nodes.health" and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_a_token_no_header_can_carry_fails_the_probe_without_showing_the_token(
    fake: FakeComfyUIThread, token: str
) -> None:
    async with new_client(1.0) as client:
        probe = await probe_node(client, url=fake.url, token=token, timeout=1.0)
    assert not probe.ok
    assert "token" in probe.error and token not in probe.error


@pytest.mark.parametrize("url", UNUSABLE_URLS)
async def test_a_url_httpx_cannot_use_fails_the_probe(url: str) -> None:
    async with new_client(1.0) as client:
        probe = await probe_node(client, url=url, token="", timeout=1.0)
    assert not probe.ok and "InvalidURL" in probe.error


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_an_idle_node_with_a_bad_stored_token_goes_offline(
    fake: FakeComfyUIThread, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    await Node.objects.acreate(url=fake.url, token=token, status=Node.Status.IDLE)
    async with running_monitor():
        await wait_for_status(fake.url, "offline", timeout=DEATH_BOUND + 3)
    node = await node_state(fake.url)
    assert node.health_failures >= 3 and "token" in node.last_error
    assert health_errors(caplog) == []


@pytest.mark.parametrize("url", UNUSABLE_URLS)
async def test_an_idle_node_with_a_url_httpx_cannot_use_goes_offline(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await Node.objects.acreate(url=url, status=Node.Status.IDLE)
    async with running_monitor():
        await wait_for_status(url, "offline", timeout=DEATH_BOUND + 3)
    node = await node_state(url)
    assert node.health_failures >= 3 and "InvalidURL" in node.last_error
    assert health_errors(caplog) == []


async def test_an_unexpected_error_in_the_check_counts_as_a_failure(
    fake: FakeComfyUIThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_probe(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the check")

    monkeypatch.setattr(health, "probe_node", broken_probe)
    await Node.objects.acreate(url=fake.url, status=Node.Status.IDLE)
    async with running_monitor():
        await wait_for_status(fake.url, "offline", timeout=DEATH_BOUND + 3)
    node = await node_state(fake.url)
    assert node.last_seen_at is None
    assert "RuntimeError" in node.last_error and "inside the router" in node.last_error
