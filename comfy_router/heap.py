"""The heap a process builds while it starts, kept out of the garbage collector's full passes.

Once Django, the apps, DRF, Channels and Twisted are loaded, a router process holds some 150,000
objects that live as long as it does. CPython's full collection (generation 2) walks every one of
them, every few seconds of a busy router: 110–160 ms with all threads stopped, measured in
`bench/utilisation.py`, during which no node gets its next prompt and no request is answered.
Frozen (`gc.freeze`), they are left out of collections; a full one then takes 15–25 ms, most of
it the workload's own objects.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collects what starting up left behind, then freezes what remains. Call when the process
    has loaded everything and is about to serve."""
    gc.collect()
    gc.freeze()
