"""Daphne's HTTP connections with the request body bound of comfy_router.limits, HEAD answers
that are headers only, and without two costs Twisted adds to every request.

Twisted reads a whole body (spooling it to disk past 100 KB) before Daphne hands the request to
Django, so the bound has to act here to keep a huge upload off the disk: a Content-Length over
the limit is refused as soon as the headers arrive, a chunked body as soon as it passes it.

The costs, on the event loop that also runs the tasks: Twisted formats an access log line per
request for a log Daphne sends nowhere (Daphne logs requests itself), and parses a POST's form
body (url-encoded or multipart, with the `email` package) into `request.args`, which Daphne does
not use. The log line is not written, and the form parse is off: the body reaches Django as it
was sent, and a malformed multipart body gets the API's JSON answer, not Twisted's empty 400.
"""

from __future__ import annotations

import io
import json
from typing import Any

import daphne.server
from daphne.http_protocol import HTTPFactory, WebRequest
from twisted.internet import reactor

from comfy_router.limits import too_large_body

# How long a refused connection keeps reading (and dropping) what the client still sends, so
# the client reads the 413 rather than a connection reset.
LINGER_SECONDS = 1.0


class BoundedWebRequest(WebRequest):  # type: ignore[misc]
    """Daphne's request, refusing a body over `max_body_bytes` while it arrives."""

    max_body_bytes: int = 32 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.body_refused = False
        self.body_received = 0
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)

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

    def handle_reply(self, message: dict[str, Any]) -> None:
        # Daphne writes each body chunk with the unbound `http.Request.write`, which passes over
        # the no-op `write` Twisted puts on a HEAD request after its first chunk: the second
        # chunk on (past 64 KiB) would reach the client and garble the connection's next answer.
        if self.method == b"HEAD" and message.get("type") == "http.response.body":
            message = {**message, "body": b""}
        super().handle_reply(message)

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


class BoundedHTTPFactory(HTTPFactory):  # type: ignore[misc]
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            protocol.requestFactory = BoundedWebRequest
        return protocol

    def log(self, request: Any) -> None:
        """Twisted's access log line: not made (see the module's docstring)."""


def install_daphne_body_limit(max_bytes: int) -> None:
    """Make Daphne servers built from now on use BoundedWebRequest (Daphne builds its HTTP
    factory inside `Server.run`, from this module-level name)."""
    BoundedWebRequest.max_body_bytes = max_bytes
    daphne.server.HTTPFactory = BoundedHTTPFactory  # type: ignore[misc]
