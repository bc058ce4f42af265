"""Asks a node whether it is alive: one `GET /system_stats`, bounded by a hard deadline.

Network only — recording the answer is `services.node_record_probe`'s job, so no database work
ever waits on a node.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.core.exceptions import ValidationError

STATS_PATH = "/system_stats"
MAX_ERROR_LENGTH = 500
# What an HTTP header value carries as is: printable ASCII, no whitespace.
TOKEN = re.compile(r"[!-~]*")


@dataclass(frozen=True)
class Probe:
    ok: bool
    stats: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def device(self) -> dict[str, Any]:
        devices = self.stats.get("devices")
        first = devices[0] if isinstance(devices, list) and devices else {}
        return first if isinstance(first, dict) else {}

    @property
    def device_name(self) -> str:
        return str(self.device.get("name") or "")[:200]

    @property
    def vram_total(self) -> int | None:
        return _integer(self.device.get("vram_total"))

    @property
    def vram_free(self) -> int | None:
        return _integer(self.device.get("vram_free"))

    @property
    def comfyui_version(self) -> str:
        system = self.stats.get("system")
        version = system.get("comfyui_version") if isinstance(system, dict) else None
        return str(version or "")[:50]


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def validate_token(token: str) -> None:
    """The rule for a node token, shared by the cluster API, the admin and `node_upsert`."""
    if not TOKEN.fullmatch(token):
        raise ValidationError(
            "A token takes printable ASCII characters only: no spaces, line breaks or accents.",
            code="invalid",
        )


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


# Building an SSL context loads the CA bundle, slowly and on the event loop: every check shares
# this one.
SSL_CONTEXT = httpx.create_ssl_context()


def new_client(timeout: float) -> httpx.AsyncClient:
    # No keep-alive: every check proves the node still accepts connections, and a restarted
    # node never meets a stale pooled socket. No pool limit: a hung node must not starve others.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return httpx.AsyncClient(
        timeout=timeout, limits=limits, follow_redirects=False, verify=SSL_CONTEXT
    )


async def probe_node(
    client: httpx.AsyncClient, *, url: str, token: str, timeout: float
) -> Probe:
    if not TOKEN.fullmatch(token):  # stored before the rule; httpx's error would quote it
        return Probe(ok=False, error="the node's token is not printable ASCII; set a new one")
    try:
        async with asyncio.timeout(timeout):
            response = await client.get(url + STATS_PATH, headers=auth_headers(token))
            body = response.content
    except (TimeoutError, httpx.TimeoutException):
        return Probe(ok=False, error=f"no answer within {timeout:g} s")
    except httpx.HTTPError as error:
        return Probe(ok=False, error=_describe(error))
    except (httpx.InvalidURL, ValueError) as error:
        # A URL stored before today's rules may be one httpx cannot use: the check fails like
        # one the node does not answer, instead of raising on every check.
        return Probe(ok=False, error=_describe(error, prefix="cannot send the request"))
    if response.status_code != 200:
        return Probe(ok=False, error=f"{STATS_PATH} answered HTTP {response.status_code}")
    try:
        stats = json.loads(body)
    except ValueError:
        return Probe(ok=False, error=f"{STATS_PATH} did not answer JSON")
    if not isinstance(stats, dict):
        return Probe(ok=False, error=f"{STATS_PATH} did not answer a JSON object")
    return Probe(ok=True, stats=stats)


async def probe_nodes(targets: list[tuple[str, str]], timeout: float) -> list[Probe]:
    """Probes every `(url, token)` at once; the slowest takes at most `timeout`."""
    async with new_client(timeout) as client:
        checks = [probe_node(client, url=u, token=t, timeout=timeout) for u, t in targets]
        return list(await asyncio.gather(*checks))


def _describe(error: Exception, prefix: str = "") -> str:
    kind = type(error).__name__
    text = str(error) or kind
    text = text if text.startswith(kind) else f"{kind}: {text}"
    return (f"{prefix}: {text}" if prefix else text)[:MAX_ERROR_LENGTH]
