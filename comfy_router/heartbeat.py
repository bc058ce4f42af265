"""A liveness file for processes with no HTTP port (`manage.py worker`): every INTERVAL seconds,
once the database has answered a query through the thread async code uses, the process touches
`<tempdir>/comfy-router-<pid>.alive`. `manage.py alive` (a container's health check) fails when
that file is missing or older than STALE_AFTER: a dead process, a blocked event loop or a
database out of reach all stop the touches."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

from channels.db import database_sync_to_async
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

INTERVAL = 5.0
STALE_AFTER = 30.0


def heartbeat_path(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"comfy-router-{pid}.alive"


def seconds_since_beat(pid: int) -> float | None:
    """Seconds since process `pid` last touched its file; None when it never has."""
    try:
        return time.time() - heartbeat_path(pid).stat().st_mtime
    except FileNotFoundError:
        return None


@database_sync_to_async
def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def run(stop: asyncio.Event) -> None:
    """Background service: touches this process's file while the loop and the database answer."""
    path = heartbeat_path(os.getpid())
    try:
        while not stop.is_set():
            try:
                await _database_answers()
                path.touch()
            except DatabaseError as failure:
                logger.warning("No heartbeat: the database did not answer: %s", failure)
            try:
                await asyncio.wait_for(stop.wait(), INTERVAL)
            except asyncio.TimeoutError:
                pass
    finally:
        path.unlink(missing_ok=True)
