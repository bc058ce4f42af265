"""Delivers a finished task's JSON to the webhook given at submission, signed and retried."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging

import httpx
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from comfy_router.background import spawn
from downloads.errors import UnsafeURLError
from downloads.policy import check_scheme
from downloads.transport import WebhookTransport
from workflows.models import Task
from workflows.tasks.selectors import task_detail

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Comfy-Router-Signature"
ATTEMPTS = 4  # the first try and 3 retries
BACKOFF = 1.0
TIMEOUT = 10.0
SSL_CONTEXT = httpx.create_ssl_context()


def signature(body: bytes) -> str:
    key = settings.ROUTER.webhook_secret.encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def webhook_body(task: Task) -> bytes:
    """The task as `GET /workflow/{id}` shows it, its output URLs absolute: on PUBLIC_URL if set,
    else on the scheme and host the task was submitted to."""
    base_url = settings.ROUTER.public_url or task.base_url
    return json.dumps(task_detail(task, base_url=base_url), cls=DjangoJSONEncoder).encode()


async def deliver(task: Task) -> bool:
    """Posts the task until the receiver takes it; with BLOCK_PRIVATE_NETWORKS the transport
    connects only to public addresses, and a refused one ends the delivery at once."""
    try:
        check_scheme(task.webhook_url)
    except UnsafeURLError as refused:
        logger.warning("Webhook %s for task %s not sent: %s", task.webhook_url, task.id, refused)
        return False
    body = await database_sync_to_async(webhook_body)(task)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(body)}
    transport = WebhookTransport(
        SSL_CONTEXT, block_private_networks=settings.ROUTER.block_private_networks
    )
    async with httpx.AsyncClient(
        transport=transport, timeout=TIMEOUT, follow_redirects=False, trust_env=False
    ) as client:
        for attempt in range(ATTEMPTS):
            try:
                response = await client.post(task.webhook_url, content=body, headers=headers)
                if response.status_code < 300:
                    return True
                logger.warning("Webhook %s answered %s", task.webhook_url, response.status_code)
            except UnsafeURLError as refused:
                logger.warning(
                    "Webhook %s for task %s not sent: %s", task.webhook_url, task.id, refused
                )
                return False
            except httpx.HTTPError as failure:
                logger.warning("Webhook %s failed: %r", task.webhook_url, failure)
            if attempt + 1 < ATTEMPTS:
                await asyncio.sleep(BACKOFF * 2**attempt)
    logger.error("Webhook %s for task %s given up", task.webhook_url, task.id)
    return False


def deliver_soon(task: Task) -> None:
    """Delivers in the background so a slow receiver never holds the node or the next task."""
    spawn(deliver(task), name=f"webhook-{task.id}")
