"""Runs the real router (`manage.py serve`, Daphne on a loopback port) in a subprocess for tests."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parents[2]
CREDENTIALS = ("admin", "admin")


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
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
                if httpx.get(self.url + "/health_check", timeout=1).status_code == 200:
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
        return httpx.Client(base_url=self.url, auth=auth, timeout=10, **kwargs)  # type: ignore[arg-type]
