"""The SQLite WAL's checkpoints, moved off the writers' path.

By default SQLite checkpoints in the commit that takes the write-ahead log past 1,000 pages: that
writer copies the log into the database file and waits for it to reach the disk before its
commit returns, so now and then one submission or task ending pays for the copy and the disk
while it holds this process's write turn (see `base`). Here writers checkpoint only past
`config.WAL_WRITER_CHECKPOINT_PAGES` (a fallback for processes without this service), and the
service checkpoints once a second from a thread of its own, in SQLite's PASSIVE mode: it never
waits for a reader or a writer, and the copying and the disk wait happen outside the
interpreter lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 1.0


def checkpoint(path: str) -> tuple[int, int, int]:
    """One PASSIVE checkpoint: (busy, frames in the log, frames checkpointed), as SQLite says."""
    connection = sqlite3.connect(path, timeout=0)
    try:
        busy, log, done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, log, done
    finally:
        connection.close()


async def run(stop: asyncio.Event) -> None:
    """Background service: checkpoints the WAL every CHECKPOINT_INTERVAL seconds (SQLite only)."""
    if connections[DEFAULT_DB_ALIAS].vendor != "sqlite":
        return
    path = str(settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"])
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), CHECKPOINT_INTERVAL)
        except asyncio.TimeoutError:
            pass
        try:
            await asyncio.to_thread(checkpoint, path)
        except sqlite3.Error as failure:  # busy or locked now: the next round tries again
            logger.debug("WAL checkpoint skipped: %s", failure)
