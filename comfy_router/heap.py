"""The heap a process builds while it starts, kept out of the garbage collector's full passes.

Once Django, the apps, DRF, Channels and Twisted are loaded, a router process holds a large heap
that lives as long as it does. CPython's full collections walk all of it with every thread
stopped, and meanwhile no node gets its next prompt and no request is answered. Frozen
(`gc.freeze`, public since Python 3.7), it is left out of them: they walk only the workload's own
objects (the pauses before and after are in the README's "Performance").
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collects what starting up left behind, then freezes what remains. Call when the process
    has loaded everything and is about to serve."""
    gc.collect()
    gc.freeze()
