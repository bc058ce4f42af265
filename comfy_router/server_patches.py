"""The one patch `serve` makes to Daphne and Twisted, for four upstream behaviours that reach
users: Twisted spools any request body to disk before Daphne hands it on, Daphne writes HEAD
answers' bodies past Twisted's guard, Twisted answers a malformed multipart body with an empty
400 of its own, and Daphne writes a response's body to Twisted's buffer as fast as the
application sends it, however slowly the client reads.

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


class RouterHTTPFactory(HTTPFactory):  # type: ignore[misc]
    """Daphne's HTTP factory, giving its connections RouterWebRequest."""

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            protocol.requestFactory = RouterWebRequest
        return protocol


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
}


def check_server_patches() -> None:
    """Raises PatchNotInstallable naming the first patch whose target has changed."""
    for name, check in PATCHES.items():
        problem = installable_at_all() or check()
        if problem:
            raise PatchNotInstallable(f"cannot install {name}: {problem}")


def install_server_patches(*, max_body_bytes: int) -> None:
    """Checks the patch (PatchNotInstallable if it does not fit), then makes the Daphne servers
    built from now on give their connections RouterWebRequest."""
    check_server_patches()
    RouterWebRequest.max_body_bytes = max_body_bytes
    daphne.server.HTTPFactory = RouterHTTPFactory  # type: ignore[misc]
