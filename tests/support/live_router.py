"""Runs the real router (`manage.py serve`, Daphne on a loopback port) in a subprocess for tests."""

from __future__ import annotations

import atexit
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parents[2]
CREDENTIALS = ("admin", "admin")
# One TLS context for every client of a test process: httpx otherwise builds one per client,
# loading the CA bundle (some 35 ms of CPU), and the suite's polling loops make thousands of
# clients; on 2 cores shared by parallel test processes that CPU is what the suite waits for.
TLS = httpx.create_ssl_context()


_template: Path | None = None


def migrated_template() -> Path:
    """A migrated SQLite database made once per test run; each router starts from a copy, so
    `serve`'s own migrate has nothing left to do."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="comfy-router-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMFY_ROUTER__")}
        env["COMFY_ROUTER__DATA_DIR"] = str(folder)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=PROJECT_DIR, env=env, check=True, timeout=120,
        )
        _template = folder / "router.sqlite3"
    return _template


EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10000
_ports: Iterator[int] | None = None
_ports_lock = threading.Lock()


def _own_ports() -> Iterator[int]:
    """This test process's ports, below the kernel's ephemeral range (where `bind(0)` picks and
    every outgoing connection takes a port, so a port picked there may be gone before the server
    binds it): one block per pytest-xdist worker, walked from a random point since another test
    run may share the machine."""
    low = int(EPHEMERAL_PORTS.read_text().split()[0]) if EPHEMERAL_PORTS.exists() else 32768
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    size = (low - LOWEST_PORT) // workers
    if size < 1:  # no room below the ephemeral range: the kernel picks (port 0)
        return itertools.repeat(0)
    start, offset = LOWEST_PORT + worker * size, random.randrange(size)
    return (start + (offset + step) % size for step in itertools.count())


def free_port() -> int:
    """A loopback port nothing listens on now, which no other process of this test run hands out."""
    global _ports
    with _ports_lock:
        _ports = _ports or _own_ports()
        while True:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", next(_ports)))
                except OSError:
                    continue
                return int(sock.getsockname()[1])


@dataclass
class LiveRouter:
    """One `serve` process with its own data, cache and ComfyUI root directories."""

    base_dir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    command: tuple[str, ...] = ("manage.py", "serve")  # run with this Python, from the project

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def cache_dir(self) -> Path:
        return self.base_dir / "cache"

    @property
    def root_dir(self) -> Path:
        return self.base_dir / "comfyui"

    @property
    def log_path(self) -> Path:
        return self.base_dir / f"router-{self.port}.log"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMFY_ROUTER__")}
        env.update(
            {
                "COMFY_ROUTER__ENV": "test",
                "COMFY_ROUTER__HOST": "127.0.0.1",
                "COMFY_ROUTER__PORT": str(self.port),
                "COMFY_ROUTER__DATA_DIR": str(self.data_dir),
                "COMFY_ROUTER__DOWNLOAD__CACHE_DIR": str(self.cache_dir),
                "COMFY_ROUTER__DOWNLOAD__ROOT_DIR": str(self.root_dir),
                "COMFY_ROUTER__DOWNLOAD__RECORD_PATH": str(self.base_dir / "record.json"),
                "COMFY_ROUTER__HEALTH__INTERVAL": "0.2",
                "COMFY_ROUTER__HEALTH__TIMEOUT": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.env_overrides)
        return env

    def start(self, timeout: float = 30.0) -> LiveRouter:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        database = self.data_dir / "router.sqlite3"
        if not database.exists() and "COMFY_ROUTER__DATABASE_URL" not in self.env_overrides:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(migrated_template(), database)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *self.command],
            cwd=PROJECT_DIR,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"router exited with {self.process.returncode}:\n{self.log()}")
            try:
                answer = httpx.get(self.url + "/health_check", timeout=1, verify=TLS)
                if answer.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"router did not answer within {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"router ignored signal {sig}:\n{self.log()}") from None

    def restart(self) -> LiveRouter:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, auth: tuple[str, str] | None = CREDENTIALS, **kwargs: object) -> httpx.Client:
        kwargs.setdefault("verify", TLS)
        return httpx.Client(base_url=self.url, auth=auth, timeout=10, **kwargs)  # type: ignore[arg-type]
