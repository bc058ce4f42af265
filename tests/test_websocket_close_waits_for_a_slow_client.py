"""After its final event the router closes a task's websocket and waits for the client's answer to
the close frame long enough for a busy client (`serve` sets it; autobahn's default is one second,
then a TCP reset, which can make a client lose the final event it had not read yet)."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import CREDENTIALS, LiveRouter

TEXT, CLOSE = 0x1, 0x8


def finished_task(router: LiveRouter) -> str:
    with router.client() as client:
        task_id = client.post("/workflow", json=comfyui_body(tiny_graph(seed=31))).json()["id"]
        assert client.delete(f"/workflow/{task_id}").status_code in (200, 202, 204)
    return str(task_id)


def open_websocket(router: LiveRouter, path: str) -> tuple[socket.socket, bytes]:
    """A websocket handshake by hand: no client library answers a close frame for us here."""
    sock = socket.create_connection(("127.0.0.1", router.port), timeout=10)
    auth = base64.b64encode(":".join(CREDENTIALS).encode()).decode()
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: router\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Basic {auth}\r\n\r\n"
        ).encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


def next_frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(opcode, payload, what follows) of the first whole server frame (unmasked) in `data`."""
    if len(data) < 2:
        return None
    length, offset = data[1] & 0x7F, 2
    if length == 126:
        if len(data) < 4:
            return None
        length, offset = struct.unpack("!H", data[2:4])[0], 4
    elif length == 127:
        if len(data) < 10:
            return None
        length, offset = struct.unpack("!Q", data[2:10])[0], 10
    if len(data) < offset + length:
        return None
    return data[0] & 0x0F, data[offset : offset + length], data[offset + length :]


def read_frames(sock: socket.socket, data: bytes) -> list[tuple[int, bytes]]:
    """The server's frames up to and including its close frame."""
    frames: list[tuple[int, bytes]] = []
    while not frames or frames[-1][0] != CLOSE:
        frame = next_frame(data)
        if frame is None:
            chunk = sock.recv(65536)
            assert chunk, "the router closed the connection before its close frame"
            data += chunk
            continue
        opcode, payload, data = frame
        frames.append((opcode, payload))
    return frames


def still_open(sock: socket.socket) -> bool:
    sock.settimeout(0.3)
    try:
        return sock.recv(1) != b""
    except socket.timeout:
        return True
    except ConnectionResetError:
        return False


def test_a_client_that_answers_the_close_late_reads_the_final_event_on_an_open_connection(
    module_router: LiveRouter,
) -> None:
    task_id = finished_task(module_router)
    sock, buffered = open_websocket(module_router, f"/ws/workflow/{task_id}")
    with sock:
        time.sleep(2.5)  # busy: autobahn's default would have reset the connection after 1 s
        frames = read_frames(sock, buffered)
        text = [json.loads(payload) for opcode, payload in frames if opcode == TEXT]
        assert [event["type"] for event in text] == ["finished"]
        assert text[0]["status"] == "cancelled"
        assert still_open(sock)
        close = bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack("!H", 1000)  # masked, key 0
        sock.sendall(close)
        sock.settimeout(5)
        try:  # the router ends the connection once answered (autobahn's server resets it)
            assert sock.recv(65536) == b""
        except ConnectionResetError:
            pass
