"""Benchmark: a 1 GiB file from a loopback server through the cache service, and with curl.

Prints the throughput ratio router/curl (goal >= 0.8) and the router process's peak RSS growth
while downloading (goal < 50 MB: the body is streamed, never held). Runs each fetch twice and keeps
the best, to be fair to both against a busy machine.

    .venv/bin/python bench/download.py [--size-mib 1024] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SERVER = """
import sys
from aiohttp import web
async def serve(request):
    return web.FileResponse(sys.argv[1])
app = web.Application()
app.router.add_get("/{name}", serve)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None, access_log=None)
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRSS:
    """Samples this process's resident memory every 20 ms while active."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_source(path: Path, size: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as file:
        for _ in range(size // len(block)):
            file.write(block)
        file.write(block[: size % len(block)])


def wait_for_server(url: str) -> None:
    import httpx

    for _ in range(200):
        try:
            httpx.head(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the file server did not start")


def curl_seconds(url: str, output: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", str(output), url], check=True)
    elapsed = time.perf_counter() - started
    output.unlink()
    return elapsed


def setup_django(work: Path, size: int) -> None:
    os.environ.update(
        COMFY_ROUTER__ENV="test",
        COMFY_ROUTER__DATA_DIR=str(work / "data"),
        COMFY_ROUTER__DOWNLOAD__CACHE_DIR=str(work / "cache"),
        COMFY_ROUTER__DOWNLOAD__ROOT_DIR=str(work / "comfyui"),
        COMFY_ROUTER__DOWNLOAD__RECORD_PATH=str(work / "record.json"),
        COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES=str(4 * size),
        COMFY_ROUTER__LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="comfy_router.settings",
    )
    os.environ.pop("COMFY_ROUTER__DATABASE_URL", None)
    sys.path.insert(0, str(PROJECT_DIR))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def router_seconds(url: str) -> tuple[float, int]:
    """Time to fetch through cache_prepare_task, and the peak RSS growth meanwhile; the entry is
    deleted afterwards so the next round downloads again."""
    from downloads.models import CacheEntry
    from downloads.naming import cache_file_name
    from downloads.services import (
        cache_entry_delete,
        cache_prepare_task,
        cache_release_task,
    )
    from workflows.graphs.builders.base import FileToFetch

    task_id = uuid.uuid4()
    file = FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))
    before = rss_bytes()
    with PeakRSS() as memory:
        started = time.perf_counter()
        asyncio.run(cache_prepare_task(task_id=task_id, files=[file]))
        elapsed = time.perf_counter() - started
    cache_release_task(task_id=task_id)
    entry = CacheEntry.objects.get(file_name=file.name)
    cache_entry_delete(entry_id=entry.pk)
    return elapsed, memory.peak - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    if shutil.which("curl") is None:
        sys.exit("curl is needed for the comparison")
    work = Path(tempfile.mkdtemp(prefix="comfy-router-bench-"))
    port = free_port()
    server = None
    try:
        source = work / "model.safetensors"
        make_source(source, size)
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(source), str(port)])
        url = f"http://127.0.0.1:{port}/model.safetensors"
        wait_for_server(url)
        setup_django(work, size)
        curl_times, router_times, growths = [], [], []
        for _ in range(args.rounds):
            curl_times.append(curl_seconds(url, work / "curl.out"))
            elapsed, growth = router_seconds(url)
            router_times.append(elapsed)
            growths.append(growth)
        curl_best, router_best = min(curl_times), min(router_times)
        mib = size / (1024 * 1024)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"file: {mib:.0f} MiB over loopback, best of {args.rounds}; load average {load}")
        print(f"curl:   {curl_best:6.2f} s  {mib / curl_best:8.1f} MiB/s  (all: {', '.join(f'{t:.2f}' for t in curl_times)})")
        print(f"router: {router_best:6.2f} s  {mib / router_best:8.1f} MiB/s  (all: {', '.join(f'{t:.2f}' for t in router_times)})")
        ratio = curl_best / router_best
        growth_mb = max(growths) / 1e6
        print(f"throughput ratio router/curl: {ratio:.2f} (goal >= 0.8) {'OK' if ratio >= 0.8 else 'MISSED'}")
        print(f"peak RSS growth while downloading: {growth_mb:.1f} MB (goal < 50 MB) {'OK' if growth_mb < 50 else 'MISSED'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
