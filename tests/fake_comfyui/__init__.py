"""A protocol-faithful fake ComfyUI v0.8.0 for tests (see server.py for the knobs)."""

from .log import FakeLog, PromptRecord, RequestRecord, WebsocketRecord
from .server import FakeComfyUI
from .thread import FakeComfyUIThread

__all__ = ["FakeComfyUI", "FakeComfyUIThread", "FakeLog", "PromptRecord", "RequestRecord",
           "WebsocketRecord"]
