"""One object per running event loop, for the per-process registries of async code (a test may
run several loops in one process, one after another)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Callable, TypeVar

T = TypeVar("T")


def loop_local(factory: Callable[[], T]) -> Callable[[], T]:
    """A getter of one `factory()` per running event loop, dropped with its loop."""
    made: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get() -> T:
        loop = asyncio.get_running_loop()
        found = made.get(loop)
        if found is None:
            found = made[loop] = factory()
        return found

    return get
