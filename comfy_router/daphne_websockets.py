"""Daphne's websocket connections with a patient closing handshake.

Autobahn aborts a connection (TCP reset) when the client has not answered the server's close
frame within one second, and a reset makes the client's kernel drop what it had not read yet:
a busy client could lose the final event of `WS /ws/workflow/{id}`, sent just before the close.
"""

from __future__ import annotations

from typing import Any

import daphne.server
from daphne.ws_protocol import WebSocketFactory

CLOSE_HANDSHAKE_SECONDS = 15.0


class PatientWebSocketFactory(WebSocketFactory):  # type: ignore[misc]
    def setProtocolOptions(self, **options: Any) -> None:
        options.setdefault("closeHandshakeTimeout", CLOSE_HANDSHAKE_SECONDS)
        super().setProtocolOptions(**options)


def install_patient_websocket_close() -> None:
    """Make Daphne servers built from now on use PatientWebSocketFactory (Daphne builds its
    websocket factory inside `Server.run`, from this module-level name)."""
    daphne.server.WebSocketFactory = PatientWebSocketFactory  # type: ignore[misc]
