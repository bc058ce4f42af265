"""While a task downloads, its files show bytes done and total, a few times per second."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async

from downloads.naming import cache_file_name
from downloads.selectors import task_download_progress
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import FileServer, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 1024 * 1024


async def test_a_task_shows_bytes_done_and_total_per_file(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    url = file_server.url(f"/slow/big.safetensors?size={SIZE}&chunk=65536&delay=0.03")
    file = FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))
    task_id = uuid.uuid4()
    seen: list[list[dict[str, Any]]] = []

    async def on_progress() -> None:
        seen.append(await database_sync_to_async(task_download_progress)(task_id=task_id))

    await cache_prepare_task(task_id=task_id, files=[file], on_progress=on_progress)

    midway = [items[0] for items in seen if items[0]["status"] == "downloading"]
    assert any(0 < item["bytes_done"] < SIZE and item["bytes_total"] == SIZE for item in midway)
    assert 2 <= len(seen) <= 20
    assert seen[-1] == [
        {"url": url, "folder": "models/checkpoints", "status": "ready", "bytes_done": SIZE, "bytes_total": SIZE}
    ]


def test_a_task_without_downloads_has_no_progress() -> None:
    assert task_download_progress(task_id=uuid.uuid4()) == []
