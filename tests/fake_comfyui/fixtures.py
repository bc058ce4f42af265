"""Pytest fixtures for the fake ComfyUI; import them into a test module to use them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from .server import FakeComfyUI
from .thread import FakeComfyUIThread

SD15_CHECKPOINT = "sd15_random.safetensors"


def install_model(root_dir: Path, folder: str, name: str) -> Path:
    """Put a (dummy) model file where ComfyUI looks for it, e.g. ("checkpoints", "x.safetensors")."""
    path = root_dir / "models" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not really a model")
    return path


@pytest_asyncio.fixture
async def fake_comfyui(tmp_path: Path) -> AsyncIterator[FakeComfyUI]:
    """A fake ComfyUI on this test's event loop, with the SD1.5 checkpoint installed."""
    fake = FakeComfyUI(tmp_path / "comfyui")
    install_model(fake.root_dir, "checkpoints", SD15_CHECKPOINT)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def fake_comfyui_thread(tmp_path: Path) -> Iterator[FakeComfyUIThread]:
    """A fake ComfyUI on its own loop in a background thread, for sync tests."""
    with FakeComfyUIThread(tmp_path / "comfyui") as fake:
        install_model(fake.root_dir, "checkpoints", SD15_CHECKPOINT)
        yield fake
