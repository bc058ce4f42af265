"""One URL to one local file over HTTP: redirects followed by hand (each hop passes the URL policy),
transient failures retried with backoff, room made in the cache as the body arrives.

The transfer itself runs in a worker thread with a blocking httpx client, which does less Python
work per byte than the asyncio stack, and CPU is what limits a fast transfer.
The event loop only waits for it. Knows nothing about the database; the caller watches `Transfer`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, BinaryIO, Callable
from urllib.parse import urljoin

import httpx

from downloads.errors import DownloadError, TransientDownloadError, UnsafeURLError
from downloads.policy import check_scheme
from downloads.transport import DownloadTransport

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 10
RETRIES = 3
BACKOFF_SECONDS = (1.0, 3.0, 9.0)
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# How long the worker thread may wait for the event loop to make room in the cache.
MAKE_ROOM_TIMEOUT = 300.0
# Room is made for the bytes that arrived plus a step of a quarter of them (at least MIN_ROOM_STEP),
# so a big file asks ~40 times, and a server that announces a large Content-Length but sends
# little evicts for what it sent, never for its header.
MIN_ROOM_STEP = 1024 * 1024
STOP_CHECK_INTERVAL = 0.1  # seconds between two looks at `stop` while waiting on the loop
# Transfers get their own threads, so many of them never starve the loop's default executor;
# a transfer beyond these waits for a free thread.
_TRANSFERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="download")
SSL_CONTEXT = httpx.create_ssl_context()

# Called with the bytes of this body the cache must have room for (they will be written next).
MakeRoom = Callable[[int], Awaitable[None]]


@dataclass
class Transfer:
    bytes_done: int = 0
    bytes_total: int | None = None


@dataclass(frozen=True)
class FetchOptions:
    timeout: float
    block_private_networks: bool
    max_bytes: int


class _Stopped(Exception):
    pass


async def fetch_with_retries(
    url: str,
    destination: Path,
    *,
    options: FetchOptions,
    transfer: Transfer,
    make_room: MakeRoom | None = None,
) -> int:
    """Downloads `url` into `destination` (created or truncated) and returns its size; raises
    DownloadError after the last attempt, having removed `destination`."""
    attempt = 0
    while True:
        try:
            return await fetch_once(
                url, destination, options=options, transfer=transfer, make_room=make_room
            )
        except TransientDownloadError as exc:
            if attempt >= RETRIES:
                destination.unlink(missing_ok=True)
                message = f"{exc.message} (gave up after {attempt + 1} attempts)"
                raise DownloadError(url, message) from exc
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
    make_room: MakeRoom | None = None,
) -> int:
    """One attempt, in a worker thread. When cancelled, the thread is told to stop and ends by
    itself at the next chunk (or the read timeout), never writing again."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def make_room_from_thread(room: int) -> None:
        """Runs `make_room` on the loop and waits for it, but not past a stop: a process that
        shuts down stops its loop, and a thread waiting on it would hold the exit up."""
        if make_room is None:
            return
        future = asyncio.run_coroutine_threadsafe(make_room(room), loop)
        deadline = time.monotonic() + MAKE_ROOM_TIMEOUT
        while True:
            try:
                future.result(STOP_CHECK_INTERVAL)
                return
            except concurrent.futures.TimeoutError:
                if stop.is_set():
                    future.cancel()
                    raise _Stopped() from None
                if time.monotonic() >= deadline:
                    future.cancel()
                    raise

    transfer_call = functools.partial(
        _fetch_blocking, url, destination, options, transfer, make_room_from_thread, stop
    )
    worker = loop.run_in_executor(_TRANSFERS, transfer_call)
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        stop.set()
        worker.add_done_callback(lambda done: done.cancelled() or done.exception())
        raise


def _fetch_blocking(
    url: str,
    destination: Path,
    options: FetchOptions,
    transfer: Transfer,
    make_room: Callable[[int], None],
    stop: threading.Event,
) -> int:
    try:
        return _transfer(url, destination, options, transfer, make_room, stop)
    except BaseException:
        if stop.is_set():  # the caller is gone and already removed the file, perhaps too early
            destination.unlink(missing_ok=True)
        raise


def _transfer(
    url: str,
    destination: Path,
    options: FetchOptions,
    transfer: Transfer,
    make_room: Callable[[int], None],
    stop: threading.Event,
) -> int:
    transfer.bytes_done = 0
    timeout = httpx.Timeout(options.timeout)
    block = options.block_private_networks
    transport = DownloadTransport(SSL_CONTEXT, block_private_networks=block)
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
    ) as client:
        response = _open(client, url, options)
        try:
            length = _content_length(response)
            if length is not None and length > options.max_bytes:
                raise DownloadError(
                    url,
                    f"the file is {length} bytes, larger than the whole cache limit "
                    f"(COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES={options.max_bytes})",
                )
            transfer.bytes_total = length
            try:
                file = open(destination, "wb")
            except OSError as exc:
                raise DownloadError(url, f"cannot write to the cache: {exc}") from None
            with file:
                _stream_body(url, response, file, options, transfer, make_room, stop)
        except httpx.TimeoutException:
            cause = f"the transfer stalled for {options.timeout:g}s (COMFY_ROUTER__DOWNLOAD__TIMEOUT)"
            raise TransientDownloadError(url, cause) from None
        except httpx.TransportError as exc:
            raise TransientDownloadError(url, f"the transfer broke off: {_describe(exc)}") from None
        finally:
            response.close()
    return transfer.bytes_done


def _open(client: httpx.Client, url: str, options: FetchOptions) -> httpx.Response:
    """Sends GET, following up to MAX_REDIRECTS redirects, checking every hop's scheme first (and
    the transport every address it connects to)."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            check_scheme(current)
            request = client.build_request("GET", current, headers={"Accept-Encoding": "identity"})
            response = client.send(request, stream=True)
        except UnsafeURLError as refused:  # by the transport, which knows the host, not the URL
            raise UnsafeURLError(current, refused.message) from None
        except httpx.TimeoutException:
            cause = f"no answer from {current} within {options.timeout:g}s"
            raise TransientDownloadError(url, cause) from None
        except httpx.TransportError as exc:
            raise TransientDownloadError(url, f"cannot reach {current}: {_describe(exc)}") from None
        except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: the resolver's IDNA codec
            raise DownloadError(url, f"invalid URL {current}: {exc}") from None
        if response.is_redirect and "location" in response.headers:
            response.close()
            current = urljoin(current, response.headers["location"])
            continue
        if response.status_code != 200:
            response.close()
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


def _stream_body(
    url: str,
    response: httpx.Response,
    file: BinaryIO,
    options: FetchOptions,
    transfer: Transfer,
    make_room: Callable[[int], None],
    stop: threading.Event,
) -> None:
    room = 0
    for chunk in response.iter_raw():
        if stop.is_set():
            raise _Stopped()
        needed = transfer.bytes_done + len(chunk)
        if needed > room:
            room = _next_room(needed, transfer.bytes_total)
            make_room(room)
            if stop.is_set():
                raise _Stopped()
        try:
            file.write(chunk)
        except OSError as exc:
            raise DownloadError(url, f"cannot write to the cache: {exc}") from None
        transfer.bytes_done += len(chunk)
        if transfer.bytes_done > options.max_bytes:
            raise DownloadError(
                url,
                f"the body passed the whole cache limit of {options.max_bytes} bytes "
                "(COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES)",
            )
    total = transfer.bytes_total
    if total is not None and transfer.bytes_done != total:
        raise TransientDownloadError(
            url, f"received {transfer.bytes_done} bytes, but Content-Length said {total}"
        )


def _next_room(needed: int, announced: int | None) -> int:
    """Room for `needed` bytes and a step more, but not past an announced length still ahead."""
    room = needed + max(MIN_ROOM_STEP, needed // 4)
    if announced is not None and announced >= needed:
        room = min(room, announced)
    return room


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
