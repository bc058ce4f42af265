"""The health monitor: every `HEALTH__INTERVAL` seconds, one `GET /system_stats` per enabled node.

Each check is its own task with its own deadline (`HEALTH__TIMEOUT`), started on the tick
whether or not earlier checks have finished, so a hung node delays nobody else, and even a node
that accepts connections but never answers is offline within FAILURES × INTERVAL + TIMEOUT. At
most FAILURES checks of one node are in flight. Results are written after the network call
returns, never inside a transaction that spans it.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from channels.db import database_sync_to_async
from django.conf import settings

from comfy_router.wakeups import dispatch_wakeup
from nodes.models import Node
from nodes.probe import Probe, new_client, probe_node
from nodes.selectors import nodes_to_check
from nodes.services import node_record_probe

logger = logging.getLogger(__name__)


async def run(stop: asyncio.Event) -> None:
    config = settings.ROUTER
    in_flight: dict[int, set[asyncio.Task[None]]] = {}
    async with new_client(config.health_timeout) as client:
        try:
            while not stop.is_set():
                for node in await database_sync_to_async(nodes_to_check)():
                    checks = in_flight.setdefault(node.pk, set())
                    if len(checks) < config.health_failures:
                        task = asyncio.create_task(
                            _check(client, node, config.health_timeout), name=f"health:{node.url}"
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


async def _check(client: httpx.AsyncClient, node: Node, timeout: float) -> None:
    try:
        probe = await probe_node(client, url=node.url, token=node.token, timeout=timeout)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        # Counted as a failure, so a node whose check breaks can never pass for a healthy one.
        logger.exception("Health check of %s failed", node.url)
        reason = f"the check failed inside the router ({type(error).__name__}); see its log"
        probe = Probe(ok=False, error=reason)
    try:
        if await database_sync_to_async(node_record_probe)(node_id=node.pk, probe=probe):
            logger.info("Node %s is back: idle", node.url)
            await dispatch_wakeup()
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Recording the health check of %s failed", node.url)
