"""An httpx transport on asyncio's own streams.

httpx reaches the network through httpcore, which runs on asyncio through anyio: a cancel scope
and a checkpoint around every read and write. Measured in the router, that was the largest
single cost of a request to a node, more than h11's parsing, and the router sends a node one
POST /prompt per task. httpcore takes a network backend of one's own; this one is asyncio's
streams, raising httpcore's timeout and network errors as its own backends do, so httpx reports
them as usual (`httpx.ConnectError`, `httpx.ReadTimeout`, ...).

httpx 0.28 does not let a transport be given a backend, so `AsyncioTransport` builds its
connection pool itself (httpx keeps it in `_pool`), with httpx's default limits.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# httpcore's names for what `get_extra_info` may be asked, as asyncio's transports call them.
_EXTRA_INFO = {"client_addr": "sockname", "server_addr": "peername"}


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            raise httpcore.ReadTimeout(f"no data within {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not send within {timeout} s") from exc
        except OSError as exc:
            raise httpcore.WriteError(exc) from exc

    async def aclose(self) -> None:
        # Not waiting for the close to complete: a TLS peer that never answers the closing
        # handshake would hold the caller for asyncio's shutdown timeout.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncioStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from exc
        except OSError as exc:  # ssl.SSLError included: a certificate not trusted, ...
            raise httpcore.ConnectError(exc) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked before a kept-alive connection is used again: readable while idle means the
            # server closed it (or sent something nobody asked for), so it is not reused.
            return self._reader.at_eof() or self._writer.is_closing()
        return self._writer.get_extra_info(_EXTRA_INFO.get(info, info))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncioStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from exc
        except OSError as exc:  # refused, unreachable, a name that does not resolve
            raise httpcore.ConnectError(exc) from exc
        sock: socket.socket = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` with `verify=ssl_context` and httpx's default limits, on
    `AsyncioBackend`. No proxies: what it reaches, it reaches directly."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        limits = httpx.Limits()  # httpx's defaults, which httpcore's pool does not share
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
