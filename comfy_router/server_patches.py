"""The one patch `serve` makes to Daphne and Twisted, for upstream behaviours that reach users:
Twisted spools any request body to disk before Daphne hands it on, Daphne writes HEAD answers'
bodies past Twisted's guard, Twisted answers a malformed multipart body with an empty 400 of its
own, Daphne writes a response's body to Twisted's buffer as fast as the application sends it,
however slowly the client reads, and neither bounds how many connections are open or how long a
request's headers may take to arrive (a client trickling a header line now and then keeps its
connection for ever: Twisted's timeout is for idleness).

Daphne offers no public way to give its connections another request class: it builds its HTTP
factory inside `Server.run` from the module-level name `daphne.server.HTTPFactory`, and that
factory gives each connection `daphne.http_protocol.WebRequest`. So `install_server_patches`
replaces that name, after checking that every part the patch overrides is still there in the
shape it was written for; if one is not, `serve` stops with one line naming it. Only `serve`
installs it (`daphne comfy_router.asgi:application` runs unpatched). README "Patches to
dependencies" lists this with every other private hook the router keeps.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

import daphne
import daphne.server  # first: installs the asyncio reactor before anything imports twisted's
import twisted
from daphne.http_protocol import HTTPFactory, WebRequest
from twisted.internet import reactor
from twisted.internet.interfaces import IPushProducer
from twisted.web import http
from zope.interface import implementer

from comfy_router.http_handler import WRITE_ROOM, WriteRoom
from comfy_router.limits import too_large_body

# The versions this patch was written against and checked with; another one stops `serve` until
# the overridden methods below have been read again and these pins moved.
DAPHNE_VERSION = "4.2.3"
TWISTED_VERSION = "26.10.0"

# How long a refused connection keeps reading (and dropping) what the client still sends, so
# the client reads the 413 rather than a connection reset.
LINGER_SECONDS = 1.0
# While the connection bound refuses connections, it says so in the log at most this often.
REFUSALS_LOGGED_EVERY = 60.0
REQUEST_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)

logger = logging.getLogger(__name__)


class PatchNotInstallable(Exception):
    """What a patch overrides is not what it was written for; the message names the patch."""


@implementer(IPushProducer)
class ClientPace:
    """Registered with a connection as its response's producer: Twisted pauses it while the
    connection's write buffer is full and resumes it once the client has taken it; the rooms
    handed meanwhile are made on resuming."""

    def __init__(self) -> None:
        self.paused = False
        self.waiting: list[WriteRoom] = []

    def hand(self, room: WriteRoom) -> None:
        if self.paused:
            self.waiting.append(room)
        else:
            room.made()

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        waiting, self.waiting = self.waiting, []
        for room in waiting:
            room.made()

    def stopProducing(self) -> None:
        self.resumeProducing()


class RouterWebRequest(WebRequest):  # type: ignore[misc]
    """Daphne's request with the request-body limit, the HEAD fix, Twisted's form parse off and
    the response pacing."""

    max_body_bytes: int = 32 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.body_refused = False
        self.body_received = 0
        self.pace = ClientPace()
        # The form-body pass-through. Twisted parses a POST's url-encoded or multipart body into
        # `request.args` (which Daphne never reads) and answers a malformed multipart body with
        # its own empty, non-JSON 400 before Django sees the request: Request.requestReceived,
        # https://github.com/twisted/twisted/blob/twisted-26.10.0/src/twisted/web/http.py#L1073
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

    # The request-body limit (COMFY_ROUTER__MAX_REQUEST_BYTES, see comfy_router.limits). Twisted
    # reads the whole body before Daphne hands the request to Django, into a temporary file on
    # disk past 100 KB (Request.gotLength, _getContentFile,
    # https://github.com/twisted/twisted/blob/twisted-26.10.0/src/twisted/web/http.py#L836-L842 ,
    # and Request.handleContentChunk); Daphne sets no bound
    # (https://github.com/django/daphne/blob/4.2.3/daphne/http_protocol.py#L64). So a declared
    # Content-Length over the limit is refused as soon as the headers arrive, and a chunked body
    # as soon as it grows past the limit: an oversized body never reaches the disk.

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.max_body_bytes:
            self.requestHeaders.removeHeader(b"Expect")  # no "100 Continue" after the 413
            self.content = io.BytesIO()
            self.refuse_body()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.body_refused:
            return
        self.body_received += len(data)
        if self.body_received > self.max_body_bytes:
            self.content.close()
            self.content = io.BytesIO()
            self.refuse_body()
            return
        super().handleContentChunk(data)

    def process(self) -> Any:
        if self.body_refused:
            return None
        return super().process()

    def refuse_body(self) -> None:
        self.body_refused = True
        body = json.dumps(too_large_body(self.max_body_bytes)).encode()
        head = (
            "HTTP/1.1 413 Request Entity Too Large\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        transport = self.channel.transport
        transport.write(head + body)
        reactor.callLater(LINGER_SECONDS, transport.loseConnection)

    def handle_reply(self, message: dict[str, Any]) -> None:
        # The HEAD fix. Daphne writes each body chunk with the unbound `http.Request.write`
        # (https://github.com/django/daphne/blob/4.2.3/daphne/http_protocol.py#L270), which
        # passes over the no-op `write` Twisted puts on a HEAD request after its first chunk
        # (Request.write,
        # https://github.com/twisted/twisted/blob/twisted-26.10.0/src/twisted/web/http.py#L1304):
        # the second chunk on (past 64 KiB) would reach the client and garble the connection's
        # next answer.
        if self.method == b"HEAD" and message.get("type") == "http.response.body":
            message = {**message, "body": b""}
        # The response pacing (see comfy_router.http_handler). Daphne writes each body chunk to
        # Twisted at once (same line as above) and its `send` returns before the client took
        # any of it, so an application streaming a large file had all of it in memory for a
        # client that reads slowly or not at all. The application hands a WriteRoom with each
        # chunk; it is made once Twisted's buffer has room again, which Twisted tells the
        # producer registered for the response (Request.registerProducer, public API).
        room = message.get(WRITE_ROOM)
        if room is not None and self.channel is not None and self.producer is None:
            self.registerProducer(self.pace, True)
        ends = message.get("type") == "http.response.body" and not message.get("more_body")
        if ends and self.producer is self.pace and self.channel is not None:
            self.unregisterProducer()
        super().handle_reply(message)
        if room is not None:
            room.heard()
            self.pace.hand(room)

    def connectionLost(self, reason: Any) -> None:
        self.pace.stopProducing()
        super().connectionLost(reason)


class RouterHTTPChannel(http.HTTPChannel):  # type: ignore[misc]
    """Twisted's HTTP connection with a deadline for each request's headers, from the request's
    first byte to its last header line (`serve --headers-timeout`): past it, a 408 and the
    connection closed. The body then has the request-body limit, and Twisted's idle timeout
    between its bytes. Given to Daphne's factory through `HTTPFactory.protocol`, Twisted's
    public factory attribute (in place of the wrapper that negotiates HTTP/2, which needs
    Twisted's `http2` extra, not installed)."""

    headers_timeout: float = 20.0

    def __init__(self) -> None:
        super().__init__()
        self.in_request = False  # from its last header line until its answer is done
        self.headers_deadline: Any = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.connection_made(self.transport)

    def dataReceived(self, data: bytes) -> None:
        if data and not self.in_request and self.headers_deadline is None:
            self.headers_deadline = self.callLater(self.headers_timeout, self.headers_too_slow)
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        self.cancel_headers_deadline()
        self.in_request = True
        super().allHeadersReceived()

    def requestDone(self, request: Any) -> None:
        self.in_request = False
        super().requestDone(request)

    def connectionLost(self, reason: Any) -> None:
        self.cancel_headers_deadline()
        super().connectionLost(reason)

    def cancel_headers_deadline(self) -> None:
        if self.headers_deadline is not None and self.headers_deadline.active():
            self.headers_deadline.cancel()
        self.headers_deadline = None

    def headers_too_slow(self) -> None:
        self.headers_deadline = None
        if self.transport is None:  # upgraded to a websocket meanwhile
            return
        logger.info("Closed a connection whose request headers took over %g s", self.headers_timeout)
        self.transport.write(REQUEST_TIMEOUT_ANSWER)
        self.transport.loseConnection()


class RouterHTTPFactory(HTTPFactory):  # type: ignore[misc]
    """Daphne's HTTP factory, giving its connections RouterHTTPChannel and RouterWebRequest, and
    refusing new ones while `max_connections` are open (`serve --max-connections`): past it a
    connection is closed as soon as it is accepted, and the log says so, rather than the
    process running out of file descriptors and failing everything, its health check included."""

    protocol = RouterHTTPChannel
    max_connections: int = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The connections' transports (a websocket goes on on its HTTP connection's), held
        # weakly: a closed one goes with its last reference, or is passed over as closed.
        self.transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self.refused = 0
        self.refusal_logged_at = -REFUSALS_LOGGED_EVERY

    def open_connections(self) -> int:
        if len(self.transports) < self.max_connections:
            return len(self.transports)  # an upper bound is enough below the limit
        return sum(1 for transport in list(self.transports) if transport.connected)

    def buildProtocol(self, addr: Any) -> Any:
        if self.open_connections() >= self.max_connections:
            self.refuse()
            return None
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            protocol.requestFactory = RouterWebRequest
        return protocol

    def connection_made(self, transport: Any) -> None:
        self.transports.add(transport)

    def refuse(self) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self.refusal_logged_at >= REFUSALS_LOGGED_EVERY:
            self.refusal_logged_at = now
            logger.warning(
                "%d connections are open, as many as `serve --max-connections` allows: "
                "refused %d connection(s)",
                self.open_connections(),
                self.refused,
            )
            self.refused = 0


def installable_at_all() -> str | None:
    """What keeps any part of the patch from being installed, or None."""
    if daphne.__version__ != DAPHNE_VERSION:
        return f"written for daphne {DAPHNE_VERSION}, found daphne {daphne.__version__}"
    if twisted.__version__ != TWISTED_VERSION:
        return f"written for Twisted {TWISTED_VERSION}, found Twisted {twisted.__version__}"
    if daphne.server.HTTPFactory not in (HTTPFactory, RouterHTTPFactory):
        return "daphne.server.HTTPFactory is not the class it was written for"
    if not callable(getattr(HTTPFactory, "buildProtocol", None)):
        return "daphne.http_protocol.HTTPFactory has no buildProtocol"
    return None


def missing_methods(*names: str) -> Callable[[], str | None]:
    def check() -> str | None:
        for name in names:
            if not callable(getattr(WebRequest, name, None)):
                return f"daphne.http_protocol.WebRequest has no {name}"
        return None

    return check


def channel_hooks_missing() -> str | None:
    if getattr(http.HTTPFactory, "protocol", None) is None:
        return "twisted.web.http.HTTPFactory has no protocol to replace"
    for name in ("connectionMade", "dataReceived", "allHeadersReceived", "requestDone"):
        if not callable(getattr(http.HTTPChannel, name, None)):
            return f"twisted.web.http.HTTPChannel has no {name}"
    return None


def form_parse_switch_missing() -> str | None:
    if "parsePOSTFormSubmission" not in inspect.signature(http.Request.__init__).parameters:
        return "twisted.web.http.Request takes no parsePOSTFormSubmission"
    return None


PATCHES: dict[str, Callable[[], str | None]] = {
    "the Daphne request-body limit": missing_methods("gotLength", "handleContentChunk", "process"),
    "the Daphne HEAD fix": missing_methods("handle_reply"),
    "the Daphne response pacing": missing_methods(
        "handle_reply", "connectionLost", "registerProducer", "unregisterProducer"
    ),
    "the Daphne form-body pass-through": form_parse_switch_missing,
    "the connection bounds": channel_hooks_missing,
}


def check_server_patches() -> None:
    """Raises PatchNotInstallable naming the first patch whose target has changed."""
    for name, check in PATCHES.items():
        problem = installable_at_all() or check()
        if problem:
            raise PatchNotInstallable(f"cannot install {name}: {problem}")


def install_server_patches(
    *, max_body_bytes: int, max_connections: int = 1000, headers_timeout: float = 20.0
) -> None:
    """Checks the patch (PatchNotInstallable if it does not fit), then makes the Daphne servers
    built from now on use RouterHTTPFactory, RouterHTTPChannel and RouterWebRequest."""
    check_server_patches()
    RouterWebRequest.max_body_bytes = max_body_bytes
    RouterHTTPFactory.max_connections = max_connections
    RouterHTTPChannel.headers_timeout = headers_timeout
    daphne.server.HTTPFactory = RouterHTTPFactory  # type: ignore[misc]
