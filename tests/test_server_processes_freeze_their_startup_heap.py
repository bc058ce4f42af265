"""A server process leaves what it loaded at start out of the garbage collector's full passes
(comfy_router.heap): `serve` and `daphne` load the application through comfy_router.asgi, which
freezes the heap once everything is imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.live_router import PROJECT_DIR, LiveRouter

PROBE = """
import gc
frozen_before = gc.get_freeze_count()
import comfy_router.asgi
print(frozen_before, gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_loading_the_application_freezes_the_objects_it_made(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_DIR,
        env=LiveRouter(base_dir=tmp_path).environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    before, after, still_collected = map(int, result.stdout.split())
    assert before == 0
    # Django, DRF, Channels and Twisted: tens of thousands of objects, now frozen, and far more
    # than the collector still walks.
    assert after > 50_000
    assert after > 10 * still_collected
