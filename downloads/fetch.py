"""One URL to one local file over HTTP: redirects followed by hand (each hop passes the URL policy),
the body streamed to disk in a worker thread, transient failures retried with backoff.

Knows nothing about the database; the caller watches `Transfer` for progress.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, BinaryIO
from urllib.parse import urljoin

import httpx

from downloads.errors import DownloadError, TransientDownloadError
from downloads.policy import check_url
from downloads.transport import DownloadTransport

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 10
RETRIES = 3
BACKOFF_SECONDS = (1.0, 3.0, 9.0)
WRITE_BUFFER_BYTES = 4 * 1024 * 1024
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

BeforeBody = Callable[[int | None], Awaitable[None]]


@dataclass
class Transfer:
    bytes_done: int = 0
    bytes_total: int | None = None


@dataclass(frozen=True)
class FetchOptions:
    timeout: float
    block_private_networks: bool
    max_bytes: int


async def fetch_with_retries(
    url: str,
    destination: Path,
    *,
    options: FetchOptions,
    transfer: Transfer,
    before_body: BeforeBody | None = None,
) -> int:
    """Downloads `url` into `destination` (created or truncated) and returns its size; raises
    DownloadError after the last attempt, having removed `destination`."""
    attempt = 0
    while True:
        try:
            return await fetch_once(
                url, destination, options=options, transfer=transfer, before_body=before_body
            )
        except TransientDownloadError as exc:
            if attempt >= RETRIES:
                destination.unlink(missing_ok=True)
                raise DownloadError(url, f"{exc.message} (gave up after {attempt + 1} attempts)") from exc
            delay = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            logger.warning("Download of %s failed (%s); retrying in %.1fs", url, exc.message, delay)
            attempt += 1
            await asyncio.sleep(delay)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise


async def fetch_once(
    url: str,
    destination: Path,
    *,
    options: FetchOptions,
    transfer: Transfer,
    before_body: BeforeBody | None = None,
) -> int:
    transfer.bytes_done = 0
    timeout = httpx.Timeout(options.timeout)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False, transport=DownloadTransport()
    ) as client:
        response = await _open(client, url, options)
        try:
            length = _content_length(response)
            if length is not None and length > options.max_bytes:
                raise DownloadError(
                    url,
                    f"the file is {length} bytes, larger than the whole cache limit "
                    f"(COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES={options.max_bytes})",
                )
            transfer.bytes_total = length
            if before_body is not None:
                await before_body(length)
            try:
                file = open(destination, "wb")
            except OSError as exc:
                raise DownloadError(url, f"cannot write to the cache: {exc}") from None
            with file:
                await _stream_body(url, response, file, options, transfer)
        except httpx.TimeoutException:
            raise TransientDownloadError(
                url, f"the transfer stalled for {options.timeout:g}s (COMFY_ROUTER__DOWNLOAD__TIMEOUT)"
            ) from None
        except httpx.TransportError as exc:
            raise TransientDownloadError(url, f"the transfer broke off: {_describe(exc)}") from None
        finally:
            await response.aclose()
    return transfer.bytes_done


async def _open(client: httpx.AsyncClient, url: str, options: FetchOptions) -> httpx.Response:
    """Sends GET, following up to MAX_REDIRECTS redirects, checking every hop's URL first."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        await check_url(current, block_private_networks=options.block_private_networks)
        try:
            request = client.build_request("GET", current, headers={"Accept-Encoding": "identity"})
            response = await client.send(request, stream=True)
        except httpx.TimeoutException:
            cause = f"no answer from {current} within {options.timeout:g}s"
            raise TransientDownloadError(url, cause) from None
        except httpx.TransportError as exc:
            raise TransientDownloadError(url, f"cannot reach {current}: {_describe(exc)}") from None
        except httpx.InvalidURL as exc:
            raise DownloadError(url, f"invalid URL {current}: {exc}") from None
        if response.is_redirect and "location" in response.headers:
            await response.aclose()
            current = urljoin(current, response.headers["location"])
            continue
        if response.status_code != 200:
            await response.aclose()
            cause = f"the server answered HTTP {response.status_code} {response.reason_phrase}"
            if current != url:
                cause += f" for {current}"
            if response.status_code in TRANSIENT_STATUSES:
                raise TransientDownloadError(url, cause)
            raise DownloadError(url, cause)
        return response
    raise DownloadError(url, f"more than {MAX_REDIRECTS} redirects")


def _content_length(response: httpx.Response) -> int | None:
    raw = response.headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def _stream_body(
    url: str, response: httpx.Response, file: BinaryIO, options: FetchOptions, transfer: Transfer
) -> None:
    """Reads the body while the previous buffer is written by a thread, so the event loop never
    blocks on the disk and at most two buffers are in memory."""
    chunks: list[bytes] = []
    buffered = 0
    pending: asyncio.Future[None] | None = None

    async def flush() -> None:
        nonlocal chunks, buffered, pending
        if pending is not None:
            await pending
        pending = asyncio.ensure_future(asyncio.to_thread(_write, url, file, chunks))
        chunks, buffered = [], 0

    try:
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            buffered += len(chunk)
            transfer.bytes_done += len(chunk)
            if transfer.bytes_done > options.max_bytes:
                raise DownloadError(
                    url,
                    f"the body passed the whole cache limit of {options.max_bytes} bytes "
                    "(COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES)",
                )
            if buffered >= WRITE_BUFFER_BYTES:
                await flush()
        await flush()
    finally:
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
    if pending is not None:
        await pending
    total = transfer.bytes_total
    if total is not None and transfer.bytes_done != total:
        raise TransientDownloadError(
            url, f"received {transfer.bytes_done} bytes, but Content-Length said {total}"
        )


def _write(url: str, file: BinaryIO, chunks: list[bytes]) -> None:
    try:
        file.writelines(chunks)
    except OSError as exc:
        raise DownloadError(url, f"cannot write to the cache: {exc}") from None


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
