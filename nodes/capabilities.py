"""Asks a node what it can run: its node classes (`GET /object_info`) and its model files by
folder (`GET /models`, then `GET /models/{folder}` for each), with `/object_info`'s bytes as sent
(ComfyUI's own `/object_info` is served over the pool from them). Network only, like
`nodes.probe`: `services.node_record_capabilities` stores the answer.

`/object_info` is large (some 600 KB on a plain ComfyUI, far more with custom node packs), so
the health monitor asks for it only when a node is new, comes back, or last said more than
`NODE__CAPABILITIES_INTERVAL` seconds ago; not on every check.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from nodes.probe import auth_headers, new_client

CAPABILITIES_TIMEOUT = 30.0  # seconds for the whole exchange with one node
MAX_ANSWER_BYTES = 64 * 1024 * 1024
MAX_FOLDERS = 100
MAX_NAME_LENGTH = 500


@dataclass(frozen=True)
class Capabilities:
    ok: bool
    node_classes: list[str] = field(default_factory=list)
    model_files: dict[str, list[str]] = field(default_factory=dict)
    object_info: bytes = b""  # the `/object_info` answer, a JSON object, as the node sent it
    error: str = ""


class NodeAnswer(Exception):
    """The node's answer could not be used; the message says why."""


async def fetch_capabilities(
    client: httpx.AsyncClient, *, url: str, token: str, timeout: float
) -> Capabilities:
    """The node's classes, model files and `/object_info` answer, or `ok=False` with the
    reason; within `timeout` for the whole exchange."""
    headers = auth_headers(token)
    try:
        async with asyncio.timeout(timeout):
            object_info_body = await _read(client, url + "/object_info", headers, timeout)
            object_info = _parse(url + "/object_info", object_info_body)
            if not isinstance(object_info, dict):
                raise NodeAnswer("/object_info did not answer a JSON object")
            folders = await _json(client, url + "/models", headers, timeout)
            if not isinstance(folders, list):
                raise NodeAnswer("/models did not answer a JSON list")
            names = [f for f in folders if isinstance(f, str) and f][:MAX_FOLDERS]
            files = await asyncio.gather(
                *(
                    _json(client, f"{url}/models/{quote(name, safe='')}", headers, timeout)
                    for name in names
                )
            )
    except (TimeoutError, httpx.TimeoutException):
        return Capabilities(ok=False, error=f"no answer within {timeout:g} s")
    except httpx.HTTPError as error:
        return Capabilities(ok=False, error=f"{type(error).__name__}: {error}"[:500])
    except NodeAnswer as error:
        return Capabilities(ok=False, error=str(error))
    return Capabilities(
        ok=True,
        node_classes=sorted(name for name in object_info if isinstance(name, str)),
        model_files={
            folder: sorted(
                {f for f in listed if isinstance(f, str) and 0 < len(f) <= MAX_NAME_LENGTH}
            )
            for folder, listed in zip(names, files)
            if isinstance(listed, list)
        },
        object_info=object_info_body,
    )


async def _json(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float
) -> Any:
    return _parse(url, await _read(client, url, headers, timeout))


async def _read(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], timeout: float
) -> bytes:
    async with client.stream("GET", url, headers=headers, timeout=timeout) as response:
        if response.status_code == 404 and "/models/" in url:
            return b"[]"  # a folder listed by /models that has no files
        if response.status_code != 200:
            path = httpx.URL(url).path
            raise NodeAnswer(f"{path} answered HTTP {response.status_code}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                path = httpx.URL(url).path
                raise NodeAnswer(f"{path} answered more than {MAX_ANSWER_BYTES} bytes")
    return bytes(body)


def _parse(url: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise NodeAnswer(f"{httpx.URL(url).path} did not answer JSON") from None


async def fetch_many(targets: list[tuple[str, str]], timeout: float) -> list[Capabilities]:
    """`fetch_capabilities` of every `(url, token)` at once."""
    if not targets:
        return []
    async with new_client(timeout) as client:
        asks = [fetch_capabilities(client, url=u, token=t, timeout=timeout) for u, t in targets]
        return list(await asyncio.gather(*asks))
