"""An output file is read from disk and sent no faster than its client takes it, through Daphne
as `serve` runs it: three clients that open a 150 MiB output and read nothing hold little of the
router's memory (they took 900 MB), and a client that reads gets the whole file, byte for byte."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import httpx

from tests.support.cluster import Cluster, comfyui_body, tiny_graph

BIG = 150 * 1024 * 1024
BLOCK = bytes(range(256)) * 4096  # 1 MiB
ALLOWED_GROWTH = 48 * 1024 * 1024
AUTHORIZATION = "Basic YWRtaW46YWRtaW4="  # admin:admin


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def a_large_output(cluster: Cluster) -> tuple[str, str]:
    """A finished task whose one output is BIG bytes, and the file's SHA-256."""
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=61)))
    assert cluster.wait_for(task_id)["status"] == "done"
    [stored] = (cluster.router.data_dir / "outputs" / task_id).iterdir()
    digest = hashlib.sha256()
    with stored.open("wb") as file:
        for _ in range(BIG // len(BLOCK)):
            file.write(BLOCK)
            digest.update(BLOCK)
    return task_id, digest.hexdigest()


def a_client_that_reads_nothing(port: int, path: str) -> socket.socket:
    """Sends the request and reads the answer's first bytes only."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    client.connect(("127.0.0.1", port))
    client.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTHORIZATION}\r\n\r\n".encode()
    )
    assert client.recv(1024).startswith(b"HTTP/1.1 200")
    return client


def test_clients_that_read_nothing_of_a_large_output_hold_little_of_the_routers_memory(
    cluster: Cluster,
) -> None:
    task_id, _ = a_large_output(cluster)
    pid = cluster.router.process.pid  # type: ignore[union-attr]
    before = rss(pid)
    clients = [
        a_client_that_reads_nothing(cluster.router.port, f"/workflow/{task_id}/outputs/0")
        for _ in range(3)
    ]
    try:
        peak = before
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            peak = max(peak, rss(pid))
            time.sleep(0.1)
    finally:
        for client in clients:
            client.close()
    assert peak - before < ALLOWED_GROWTH, f"the router grew by {(peak - before) >> 20} MiB"


def test_a_client_that_reads_gets_the_whole_large_output(cluster: Cluster) -> None:
    task_id, expected = a_large_output(cluster)
    digest, size = hashlib.sha256(), 0
    client = httpx.Client(base_url=cluster.router.url, auth=("admin", "admin"), timeout=60)
    with client, client.stream("GET", f"/workflow/{task_id}/outputs/0") as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Length"] == str(BIG)
        for chunk in answer.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    assert size == BIG
    assert digest.hexdigest() == expected
