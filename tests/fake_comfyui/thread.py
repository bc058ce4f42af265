"""Run a FakeComfyUI on its own event loop in a background thread, for sync and Django tests."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Coroutine, TypeVar

from .log import FakeLog
from .server import FakeComfyUI

T = TypeVar("T")
KNOBS = frozenset(
    {
        "step_delay",
        "node_delay",
        "previews",
        "fail_at_node",
        "fail_message",
        "fail_exception_type",
        "reject_prompt",
        "drop_websocket_after",
        "hang",
        "load_time",
        "system_stats_status",
        "missing_classes",
        "required_token",
        "view_rate",
    }
)


class FakeComfyUIThread:
    """`with FakeComfyUIThread() as fake: ... fake.url, fake.log, fake.step_delay = 0.1`.

    Knob attributes are forwarded to the server. `stop()` kills it (connections refused),
    `restart()` brings a fresh one up on the same port and root dir with the same log.
    """

    def __init__(self, root_dir: str | Path | None = None, *, port: int = 0, **knobs: Any) -> None:
        object.__setattr__(self, "_loop", asyncio.new_event_loop())
        object.__setattr__(
            self,
            "_thread",
            threading.Thread(target=self._loop.run_forever, daemon=True, name="fake-comfyui"),
        )
        object.__setattr__(self, "_knobs", dict(knobs))
        object.__setattr__(self, "server", FakeComfyUI(root_dir, port=port))
        for name, value in knobs.items():
            setattr(self.server, name, value)
        self._thread.start()
        self.call(self.server.start())

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the fake's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def root_dir(self) -> Path:
        return self.server.root_dir

    @property
    def log(self) -> FakeLog:
        return self.server.log

    @property
    def running(self) -> bool:
        return self.server._runner is not None

    def __getattr__(self, name: str) -> Any:
        if name in KNOBS:
            return getattr(self.server, name)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in KNOBS:
            raise AttributeError(f"{name} is not a knob of the fake ComfyUI")
        self._knobs[name] = value
        setattr(self.server, name, value)

    def stop(self) -> None:
        if self.running:
            self.call(self.server.stop())

    die = stop

    def restart(self) -> None:
        """Like a restarted ComfyUI: same port and files, empty queue, history and caches."""
        self.stop()
        fresh = FakeComfyUI(self.server.root_dir, port=self.server.port, log=self.server.log)
        for name, value in self._knobs.items():
            setattr(fresh, name, value)
        object.__setattr__(self, "server", fresh)
        self.call(fresh.start())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FakeComfyUIThread:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
