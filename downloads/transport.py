"""The httpx transport for downloads. httpx's own transport reads the socket 64 KiB at a time, and
the Python work per chunk then limits a fast transfer; this one reads up to 1 MiB at a time, so
there are fewer chunks to handle (figures in the README's "Performance").

Built on public APIs only: httpcore's `ConnectionPool` takes a network backend of one's own (here
httpcore's `SyncBackend` with wider reads), and `httpx.BaseTransport` is httpx's interface for a
custom transport. httpcore's errors are raised again as httpx's, as httpx's own transport does, so
callers see `httpx.ConnectError`, `httpx.ReadTimeout`, ..."""

from __future__ import annotations

import contextlib
import ssl
import typing

import httpcore
import httpx

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
    def __init__(self) -> None:
        self.backend = httpcore.SyncBackend()

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


class ResponseBody(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self.response = response

    def __iter__(self) -> typing.Iterator[bytes]:
        with httpx_errors():
            yield from self.response.iter_stream()

    def close(self) -> None:
        with httpx_errors():
            self.response.close()


class DownloadTransport(httpx.BaseTransport):
    """One connection at a time, no proxies, TLS checked with `ssl_context`, wide socket reads."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, network_backend=WideReadBackend()
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        url = httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        )
        with httpx_errors():
            response = self.pool.handle_request(
                httpcore.Request(
                    request.method,
                    url,
                    headers=request.headers.raw,
                    content=request.stream,
                    extensions=request.extensions,
                )
            )
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=ResponseBody(response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.pool.close()
