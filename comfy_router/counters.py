"""Persistent counters and histograms in the database, so every process adds to the same series
and a restart or the task history limit loses nothing.

Increments are gathered in memory and written together at most once a second (and before every
read), so counting never costs a task its own database round trip. A count added inside a
transaction belongs to its commit (a rolled-back task ending counts nothing), and the writes
happen only outside any caller's transaction, whose rollback would otherwise take them along."""

from __future__ import annotations

import asyncio
import atexit
import logging
import math
import threading
import time
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from comfy_router.models import MetricCounter
from comfy_router.statements import add_to_rows

HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    "task_wait_seconds": (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, math.inf),
    "task_run_seconds": (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, math.inf),
    "node_idle_seconds": (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, math.inf),
}


def bucket_label(bound: float) -> str:
    return "le=+Inf" if bound == math.inf else f"le={bound:g}"


Series = dict[tuple[str, str], float]  # (name, labels) -> amount to add

FLUSH_INTERVAL = 1.0
logger = logging.getLogger(__name__)
_pending: Series = {}
_pending_lock = threading.Lock()
_last_flush = 0.0
# Set while this process runs the background flush (`run`): the task path then never writes
# counts itself, which would make the task that happens to pass the second wait for a write.
_flushing_in_background = False


def counter_add(name: str, amount: float = 1.0, *, labels: str = "") -> None:
    series_add({(name, labels): amount})


def histogram_series(name: str, value: float) -> Series:
    series = {(name, bucket_label(b)): 1.0 for b in HISTOGRAM_BUCKETS[name] if value <= b}
    series[(f"{name}_sum", "")] = value
    return series


def series_add(series: Series) -> None:
    """Adds to the pending increments, inside a transaction once it commits; in a process with no
    background flush (an API process scaled out), writes them when the last write is a second
    old."""
    if not transaction.get_autocommit():
        transaction.on_commit(lambda: series_add(series))
        return
    with _pending_lock:
        for key, amount in series.items():
            _pending[key] = _pending.get(key, 0.0) + amount
        due = time.monotonic() - _last_flush >= FLUSH_INTERVAL
    if due and not _flushing_in_background:
        flush()


def flush(*, quiet: bool = False) -> None:
    """Writes the pending increments (called by series_add, before reads, once a second by the
    background loop, and at exit). Inside a caller's transaction it writes nothing: the next
    flush outside one does."""
    global _last_flush
    series: Series = {}
    try:
        if _pending and not transaction.get_autocommit():
            return
        with _pending_lock:
            series = dict(_pending)
            _pending.clear()
            _last_flush = time.monotonic()
        if series:
            _write(series)
    except Exception:
        if not quiet:
            logger.exception("Could not write the metrics: %d series dropped", len(series))


async def run(stop: Any) -> None:
    """Background loop: flushes increments gathered by a busy process once a second."""
    global _flushing_in_background
    _flushing_in_background = True
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL)
            except asyncio.TimeoutError:
                pass
            await database_sync_to_async(flush)()
    finally:
        _flushing_in_background = False


# At exit the database may already be gone; metrics are not worth a traceback then.
atexit.register(flush, quiet=True)


def _write(series: Series) -> None:
    """One commit of its own for every series, in one statement: a busy second gathers some 40
    series, and an UPDATE built by the ORM for each held the database thread, which every
    dispatch pass and every run's ending wait for, for dozens of times as long
    (`bench/statements.py`). The first increment of a series makes its row."""
    with transaction.atomic(durable=True):
        add_to_rows(
            MetricCounter,
            ("name", "labels"),
            "value",
            [(name, labels, amount) for (name, labels), amount in series.items()],
        )


def counter_values() -> dict[tuple[str, str], float]:
    flush()
    return {
        (name, labels): value
        for name, labels, value in MetricCounter.objects.values_list("name", "labels", "value")
    }
