"""The router as scale-out runs it, for tests: `manage.py serve --api-only` API processes and
`manage.py worker` processes sharing one PostgreSQL database, one Redis channel layer and
one set of directories (data, cache, ComfyUI root), as a shared volume would."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.backing_services import PostgresServer, RedisServer, die_with_parent
from tests.support.live_router import PROJECT_DIR, TLS, LiveRouter, free_port


@dataclass
class SharedSetup:
    base_dir: Path
    database_url: str
    channel_layer_url: str
    extra: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {
            "COMFY_ROUTER__DATABASE_URL": self.database_url,
            "COMFY_ROUTER__CHANNEL_LAYER_URL": self.channel_layer_url,
        }
        env.update(self.extra)
        return env

    def router_env(self) -> LiveRouter:
        """A LiveRouter only for its environment and directories (all processes share them)."""
        return LiveRouter(base_dir=self.base_dir, env_overrides=self.environment(), port=8080)

    def migrate(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=PROJECT_DIR, env=self.router_env().environment(), check=True, timeout=180,
        )


def shared_setup(
    base_dir: Path, postgres: PostgresServer, redis: RedisServer, database: str, **extra: str
) -> SharedSetup:
    import redis as redis_client

    redis_client.Redis(port=redis.port).flushall()
    return SharedSetup(
        base_dir=base_dir,
        database_url=postgres.create_database(database),
        channel_layer_url=redis.url(),
        extra=extra,
    )


@dataclass
class RouterProcess:
    """One process of the router: an API (Daphne on its own port) or a worker."""

    setup: SharedSetup
    kind: str  # "api" | "worker"
    index: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.setup.base_dir / f"{self.kind}{self.index}.log"

    def command(self) -> list[str]:
        if self.kind == "api":
            return [sys.executable, "manage.py", "serve", "--api-only"]
        return [sys.executable, "manage.py", "worker"]

    def start(self, timeout: float = 60.0) -> RouterProcess:
        env = self.setup.router_env().environment()
        env["COMFY_ROUTER__PORT"] = str(self.port)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"{self.kind} exited with {code}:\n{self.log()}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"{self.kind} did not start within {timeout}s:\n{self.log()}")

    def ready(self) -> bool:
        if self.kind == "worker":
            return "Background services started" in self.log()
        try:
            return httpx.get(self.url + "/health_check", timeout=1, verify=TLS).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.kind} ignored signal {sig}:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("admin", "admin"), timeout=30, verify=TLS)


@contextmanager
def one_api_one_worker_one_node(
    base_dir: Path, postgres: PostgresServer, redis: RedisServer, database: str, **knobs: Any
) -> Iterator[tuple[RouterProcess, FakeComfyUIThread]]:
    """An API process and a worker on a fresh database, with one fake node (its `knobs`)
    registered through the API and a checkpoint `tiny.safetensors` in the shared ComfyUI folders;
    all stopped on the way out."""
    setup = shared_setup(base_dir, postgres, redis, database)
    setup.migrate()
    checkpoints = setup.router_env().root_dir / "models" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / "tiny.safetensors").write_bytes(b"weights")
    node = FakeComfyUIThread(setup.router_env().root_dir, **knobs)
    api, worker = RouterProcess(setup, "api", 0), RouterProcess(setup, "worker", 0)
    try:
        api.start()
        worker.start()
        with api.client() as client:
            assert client.post("/cluster/nodes", json={"url": node.url}).status_code in (200, 201)
        yield api, node
    finally:
        for process in (api, worker):
            process.stop(signal.SIGKILL)
        node.close()
