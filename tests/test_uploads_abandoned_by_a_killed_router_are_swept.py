"""A router killed while it streamed or placed an upload leaves its staged file (a hidden
`.upload-*.part` in the input folder). A router started later removes those untouched for an
hour, and every hour after, and leaves alone what an upload under way may still be writing, and
every other file."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.live_router import LiveRouter
from tests.support.queue_ahead import wait_until

HOURS = 3600


def staged(folder: Path, token: str, *, age: float) -> Path:
    path = folder / f".upload-{token}.part"
    path.write_bytes(b"\x89PNG half an upload")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_a_router_removes_staged_uploads_untouched_for_an_hour(tmp_path: Path) -> None:
    router = LiveRouter(base_dir=tmp_path)
    inputs = router.root_dir / "input"
    inputs.mkdir(parents=True)
    abandoned = staged(inputs, "0123456789abcdef", age=2 * HOURS)
    under_way = staged(inputs, "fedcba9876543210", age=60)
    kept = [inputs / "photo.png", inputs / ".upload-notes.txt", inputs / "sub" / "old.part"]
    for path in kept:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"a client's file")
        os.utime(path, (time.time() - 2 * HOURS,) * 2)

    router.start()
    try:
        wait_until(lambda: not abandoned.exists(), "the abandoned upload is removed")
        assert under_way.exists()
        assert all(path.exists() for path in kept)
    finally:
        router.stop()
