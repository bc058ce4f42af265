"""SQLite writers do not checkpoint the write-ahead log in their commits (only far past SQLite's
default, as a fallback); a background service of the server checkpoints it every second,
without waiting for anyone."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from comfy_router.background import registered_services
from comfy_router.config import WAL_WRITER_CHECKPOINT_PAGES
from comfy_router.sqlite_backend import checkpoints
from workflows.models import Task


def test_the_routers_connections_leave_checkpoints_far_past_sqlites_default(db: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == WAL_WRITER_CHECKPOINT_PAGES > 1000


def test_a_passive_checkpoint_moves_every_frame_while_another_connection_holds_the_file(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "db.sqlite3")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x TEXT)")
    for _ in range(50):
        writer.execute("INSERT INTO t VALUES (?)", ["x" * 4000])
    busy, log, done = checkpoints.checkpoint(path)
    assert (busy, done) == (0, log) and log > 50
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 50
    writer.close()


def test_the_checkpoints_are_a_background_service_of_serve_and_worker() -> None:
    assert "comfy_router.sqlite_backend.checkpoints.run" in registered_services()


@pytest.mark.django_db(transaction=True)
async def test_the_service_checkpoints_the_routers_database_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checkpoints, "CHECKPOINT_INTERVAL", 0.05)
    rounds: list[tuple[str, tuple[int, int, int]]] = []
    real = checkpoints.checkpoint

    def recorded(path: str) -> tuple[int, int, int]:
        result = real(path)
        rounds.append((path, result))
        return result

    monkeypatch.setattr(checkpoints, "checkpoint", recorded)

    def write() -> None:
        Task.objects.create(
            type="ComfyUI", params={}, graph={}, client_id=uuid.uuid4().hex, prompt_id="p"
        )

    stop = asyncio.Event()
    service = asyncio.create_task(checkpoints.run(stop))
    for _ in range(3):
        await sync_to_async(write)()
        seen = len(rounds)
        for _ in range(500):  # a round after this write, however slow the machine
            if len(rounds) > seen:
                break
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(service, 10)
    assert len(rounds) >= 3
    database = str(settings.DATABASES["default"]["NAME"])
    assert {path for path, _ in rounds} == {database}
    assert any(log > 0 for _, (_, log, _) in rounds)  # there was something to move
    assert all(busy == 0 and done == log for _, (busy, log, done) in rounds)
