"""What a fake ComfyUI saw, for tests to assert on (it outlives restarts of the fake)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PromptRecord:
    """One accepted prompt. Times are `time.monotonic()`; outcome is set when it leaves the queue:
    "success", "error", "interrupted", "deleted" (removed while pending) or "lost" (fake died)."""

    prompt_id: str
    client_id: str | None
    graph: dict[str, Any]
    extra_data: dict[str, Any]
    number: float
    submitted: float
    started: float | None = None
    ended: float | None = None
    outcome: str | None = None
    cached: list[str] = field(default_factory=list)
    end_announced: bool = False  # its execution_success / _error / _interrupted went out


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    authorization: str | None
    origin: str | None
    status: int | None = None


@dataclass
class WebsocketRecord:
    client_id: str
    token: str | None
    opened: float
    closed: float | None = None


class FakeLog:
    """Thread-safe record of prompts, HTTP requests and websocket connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.prompts: list[PromptRecord] = []
        self.requests: list[RequestRecord] = []
        self.websockets: list[WebsocketRecord] = []
        # Prompts queued or running, each until its end message goes out (ComfyUI takes a prompt
        # off its queue only after sending it, and a router may post the next one on hearing it),
        # and the most at once: the router must keep it to 1 + NODE__QUEUE_AHEAD.
        self.active = 0
        self.max_active = 0

    def prompt_accepted(self, record: PromptRecord) -> None:
        with self._lock:
            self.prompts.append(record)
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def prompt_ending(self, record: PromptRecord) -> None:
        """The prompt's end message is about to go out: it no longer counts as active."""
        with self._lock:
            if record.outcome is None and not record.end_announced:
                record.end_announced = True
                self.active -= 1

    def prompt_left(self, record: PromptRecord, outcome: str, when: float) -> None:
        with self._lock:
            if record.outcome is None:
                record.outcome, record.ended = outcome, when
                if not record.end_announced:
                    self.active -= 1

    def request(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def websocket(self, record: WebsocketRecord) -> None:
        with self._lock:
            self.websockets.append(record)

    def prompt(self, prompt_id: str) -> PromptRecord:
        """The last accepted prompt with that id."""
        with self._lock:
            for record in reversed(self.prompts):
                if record.prompt_id == prompt_id:
                    return record
        raise KeyError(prompt_id)

    def paths(self, method: str | None = None) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if method is None or r.method == method]
