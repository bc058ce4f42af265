"""The health monitor: every `HEALTH__INTERVAL` seconds, one `GET /system_stats` per enabled node.

Each check is its own task with its own deadline (`HEALTH__TIMEOUT`), started on the tick
whether or not earlier checks have finished, so a hung node delays nobody else, and even a node
that accepts connections but never answers is offline within FAILURES × INTERVAL + TIMEOUT. At
most FAILURES checks of one node are in flight. Results are written after the network call
returns, never inside a transaction that spans it.

A node that answers is also asked what it can run (`nodes.capabilities`) when it has not said
yet, when it comes back, and when it last said more than `NODE__CAPABILITIES_INTERVAL` seconds
ago; one such question per node at a time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import httpx
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from comfy_router.wakeups import dispatch_wakeup
from nodes.capabilities import CAPABILITIES_TIMEOUT, fetch_capabilities
from nodes.models import Node
from nodes.probe import Probe, new_client, probe_node
from nodes.selectors import nodes_to_check
from nodes.services import node_record_capabilities, node_record_probe

logger = logging.getLogger(__name__)


async def run(stop: asyncio.Event) -> None:
    config = settings.ROUTER
    in_flight: dict[int, set[asyncio.Task[None]]] = {}
    learning: set[int] = set()
    async with new_client(config.health_timeout) as client:
        try:
            while not stop.is_set():
                for node in await database_sync_to_async(nodes_to_check)():
                    checks = in_flight.setdefault(node.pk, set())
                    if len(checks) < config.health_failures:
                        task = asyncio.create_task(
                            _check(client, node, config.health_timeout, learning),
                            name=f"health:{node.url}",
                        )
                        checks.add(task)
                        task.add_done_callback(checks.discard)
                in_flight = {pk: checks for pk, checks in in_flight.items() if checks}
                try:
                    await asyncio.wait_for(stop.wait(), config.health_interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            pending = [task for checks in in_flight.values() for task in checks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def _check(
    client: httpx.AsyncClient, node: Node, timeout: float, learning: set[int]
) -> None:
    started = timezone.now()
    try:
        probe = await probe_node(client, url=node.url, token=node.token, timeout=timeout)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        # Counted as a failure, so a node whose check breaks can never pass for a healthy one.
        logger.exception("Health check of %s failed", node.url)
        reason = f"the check failed inside the router ({type(error).__name__}); see its log"
        probe = Probe(ok=False, error=reason)
    coming_back = probe.ok and node.status == Node.Status.OFFLINE
    if probe.ok and node.pk not in learning and await _capabilities_due(node, started, coming_back):
        # Before the answer is recorded: a node coming back turns idle knowing what it can run.
        learning.add(node.pk)
        try:
            await _learn(client, node)
        finally:
            learning.discard(node.pk)
    try:
        if await database_sync_to_async(node_record_probe)(node_id=node.pk, probe=probe):
            logger.info("Node %s is back: idle", node.url)
            await dispatch_wakeup()
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Recording the health check of %s failed", node.url)


async def _capabilities_due(node: Node, started: datetime, back: bool) -> bool:
    """Whether the node is due to be asked what it can run: it is coming back (unless someone,
    such as its registration, asked it since this check began), or it has not said for too long
    (by the row read for this round, then by the row as it is now)."""
    if not back and not _due(node.capabilities_at):
        return False
    latest = Node.objects.filter(pk=node.pk).values_list("capabilities_at", flat=True)
    asked_at = await latest.afirst()
    if back:
        return asked_at is None or asked_at < started
    return _due(asked_at)


def _due(asked_at: datetime | None) -> bool:
    if asked_at is None:
        return True
    return (timezone.now() - asked_at).total_seconds() >= settings.ROUTER.capabilities_interval


async def _learn(client: httpx.AsyncClient, node: Node) -> None:
    """Asks the node what it can run and stores it; before the node's first task when it is new
    or back, since a pass of the dispatcher comes only after."""
    try:
        capabilities = await fetch_capabilities(
            client, url=node.url, token=node.token, timeout=CAPABILITIES_TIMEOUT
        )
        if await database_sync_to_async(node_record_capabilities)(
            node_id=node.pk, capabilities=capabilities
        ):
            logger.info("Node %s: what it can run changed", node.url)
            await dispatch_wakeup()  # a task that waited for such a node may go now
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Learning what %s can run failed", node.url)
