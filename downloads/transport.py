"""The httpx transports for downloads and webhooks.

With BLOCK_PRIVATE_NETWORKS their connections go only to public addresses: the network backend
resolves the host itself, checks every address (`policy.public_addresses`) and connects to a
checked address, while TLS (SNI, certificate) and the Host header keep the name, which httpcore
and httpx take from the URL. The name resolved is the one httpx connects to, and it is resolved
once, so neither IDNA spellings nor a changing DNS answer can make the two differ.

httpx's own transport reads the socket 64 KiB at a time, and the Python work per chunk then limits
a fast transfer; the download transport reads up to 1 MiB at a time, so there are fewer chunks to
handle (figures in the README's "Performance").

Built on public APIs only: httpcore's connection pools take a network backend of one's own, and
`httpx.BaseTransport` / `httpx.AsyncBaseTransport` are httpx's interfaces for a custom transport.
httpcore's errors are raised again as httpx's, as httpx's own transport does, so callers see
`httpx.ConnectError`, `httpx.ReadTimeout`, ...; a refused address is `UnsafeURLError`."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing

import httpcore
import httpx

from downloads.policy import public_addresses

READ_BYTES = 1024 * 1024

# httpcore's errors and httpx's names for them; an error is raised as its most specific match.
ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextlib.contextmanager
def httpx_errors() -> typing.Iterator[None]:
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            if kind in ERRORS:
                raise ERRORS[kind](str(exc)) from exc
        raise


class WideReadStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max(max_bytes, READ_BYTES), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, timeout)

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return WideReadStream(self.stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self.stream.get_extra_info(info)


class WideReadBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self.backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return WideReadStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return WideReadStream(self.backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


class PublicOnlyBackend(httpcore.NetworkBackend):
    """Connects to `host` only at an address `public_addresses` let through, trying them in turn."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self.backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in public_addresses(host, port):
            try:
                return self.backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # the resolver answers with an address or an error
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("no unix sockets when only public addresses are reached")

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


class AsyncPublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """`PublicOnlyBackend` for asyncio: the host is resolved in a worker thread."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self.backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await asyncio.to_thread(public_addresses, host, port):
            try:
                return await self.backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # the resolver answers with an address or an error
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets when only public addresses are reached")

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


def core_request(request: httpx.Request) -> httpcore.Request:
    url = httpcore.URL(
        scheme=request.url.raw_scheme,
        host=request.url.raw_host,
        port=request.url.port,
        target=request.url.raw_path,
    )
    return httpcore.Request(
        request.method,
        url,
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


class ResponseBody(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self.response = response

    def __iter__(self) -> typing.Iterator[bytes]:
        with httpx_errors():
            yield from self.response.iter_stream()

    def close(self) -> None:
        with httpx_errors():
            self.response.close()


class AsyncResponseBody(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self.response = response

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        with httpx_errors():
            async for chunk in self.response.aiter_stream():
                yield chunk

    async def aclose(self) -> None:
        with httpx_errors():
            await self.response.aclose()


class DownloadTransport(httpx.BaseTransport):
    """One connection at a time, no proxies, TLS checked with `ssl_context`, wide socket reads,
    and with `block_private_networks` connections to public addresses only."""

    def __init__(self, ssl_context: ssl.SSLContext, *, block_private_networks: bool) -> None:
        backend: httpcore.NetworkBackend = httpcore.SyncBackend()
        if block_private_networks:
            backend = PublicOnlyBackend(backend)
        self.pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, network_backend=WideReadBackend(backend)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        with httpx_errors():
            response = self.pool.handle_request(core_request(request))
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=ResponseBody(response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.pool.close()


class WebhookTransport(httpx.AsyncBaseTransport):
    """No proxies, TLS checked with `ssl_context`, and with `block_private_networks` connections
    to public addresses only."""

    def __init__(self, ssl_context: ssl.SSLContext, *, block_private_networks: bool) -> None:
        backend: httpcore.AsyncNetworkBackend = httpcore.AnyIOBackend()
        if block_private_networks:
            backend = AsyncPublicOnlyBackend(backend)
        self.pool = httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        with httpx_errors():
            response = await self.pool.handle_async_request(core_request(request))
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=AsyncResponseBody(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()
