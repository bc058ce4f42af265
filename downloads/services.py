"""The URL cache as the rest of the router uses it.

`cache_prepare_task` makes every file a task needs present in ComfyUI's folders (downloading each
URL once, however many tasks and processes want it), `cache_release_task` unpins them when the
task ends, `cache_prune` applies the size limit by hand. A download that no task pins any more
stops, and a task whose pins are gone stops waiting for others' downloads.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol, Sequence

from channels.db import database_sync_to_async
from django.conf import settings

from comfy_router.owners import new_owner, owner_token
from downloads import claims
from downloads.errors import DownloadAbandoned, DownloadError
from downloads.eviction import (
    EntryPinned,
    EvictedEntry,
    entry_delete,
    evict,
    pinned_bytes,
    ready_bytes,
)
from downloads.fetch import FetchOptions, Transfer, fetch_with_retries
from downloads.policy import check_file_name, check_scheme, folder_path
from downloads.storage import cache_path, ensure_link, temp_path, write_inline_file

__all__ = [
    "DownloadAbandoned",
    "DownloadError",
    "EntryPinned",
    "PruneReport",
    "cache_entry_delete",
    "cache_prepare_task",
    "cache_prune",
    "cache_release_task",
    "acache_release_task",
]

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.3
POLL_INTERVAL = 0.2
PARALLEL_DOWNLOADS = 4

OnProgress = Callable[[], Awaitable[None]]


class FileToFetch(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def folder(self) -> str: ...
    @property
    def name(self) -> str: ...


class InlineFile(Protocol):
    @property
    def folder(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def data(self) -> bytes: ...


@dataclass(frozen=True)
class PruneReport:
    limit: int
    bytes_before: int
    bytes_after: int
    pinned_bytes: int
    removed: list[EvictedEntry] = field(default_factory=list)
    dry_run: bool = False


class _Throttle:
    """Calls the task's progress callback at most once per PROGRESS_INTERVAL (plus a final call)."""

    def __init__(self, callback: OnProgress | None) -> None:
        self.callback = callback
        self.last = 0.0

    async def __call__(self, force: bool = False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            try:
                await self.callback()
            except Exception:
                logger.exception("Download progress callback failed")


def _validate(files: Sequence[FileToFetch], inline_files: Sequence[InlineFile]) -> list[claims.Wanted]:
    wanted: list[claims.Wanted] = []
    for file in files:
        try:
            check_scheme(file.url)
            folder_path(settings.ROUTER.root_dir, file.folder)
            check_file_name(file.name)
        except ValueError as exc:
            raise DownloadError(file.url, str(exc)) from None
        wanted.append(claims.Wanted(url=file.url, folder=file.folder, name=file.name))
    for inline in inline_files:
        try:
            folder_path(settings.ROUTER.root_dir, inline.folder)
            check_file_name(inline.name)
        except ValueError as exc:
            raise DownloadError(f"inline file {inline.name!r}", str(exc)) from None
    return wanted


async def cache_prepare_task(
    *,
    task_id: uuid.UUID,
    files: Sequence[FileToFetch],
    inline_files: Sequence[InlineFile] = (),
    on_progress: OnProgress | None = None,
) -> None:
    """Puts every file of a task in place under ROOT_DIR, or raises DownloadError.

    1. Validates URLs, folders and names; writes inline files into their folder.
    2. Pins every entry to the task (one transaction) and stamps `last_used`.
    3. For each URL, concurrently: uses the ready file, downloads it, or waits for whoever
       downloads it; then links `ROOT_DIR/<folder>/<name>` to the cache file.
    The pins stay until `cache_release_task`, which the caller must call however the task ends;
    once they are gone this raises DownloadAbandoned, having stopped every download of the task
    that no other task wants.
    """
    wanted = _validate(files, inline_files)
    root_dir = settings.ROUTER.root_dir
    for inline in inline_files:
        await asyncio.to_thread(write_inline_file, root_dir, inline.folder, inline.name, inline.data)
    if not wanted:
        return
    entry_ids = await database_sync_to_async(claims.pin)(task_id=task_id, wanted=wanted)
    progress = _Throttle(on_progress)
    limit = asyncio.Semaphore(PARALLEL_DOWNLOADS)
    by_file: dict[str, list[claims.Wanted]] = {}
    for item in wanted:
        by_file.setdefault(item.file_name, []).append(item)

    async def prepare(file_name: str, items: list[claims.Wanted]) -> None:
        async with limit:
            await _ensure_ready(task_id, entry_ids[file_name], items[0].url, file_name, progress)
        target = cache_path(settings.ROUTER.cache_dir, file_name)
        for item in items:
            try:
                await asyncio.to_thread(ensure_link, root_dir, item.folder, item.name, target)
            except OSError as exc:
                raise DownloadError(item.url, f"cannot link it into {item.folder}: {exc}") from None
            await database_sync_to_async(claims.record_link)(
                entry_id=entry_ids[file_name], folder=item.folder, name=item.name
            )
        await progress(force=True)

    try:
        async with asyncio.TaskGroup() as group:
            for file_name, items in by_file.items():
                group.create_task(prepare(file_name, items))
    except BaseExceptionGroup as group_error:
        raise _first_error(group_error) from None


def _first_error(group_error: BaseExceptionGroup) -> BaseException:
    for error in group_error.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if isinstance(error, DownloadError):
            return error
    return group_error.exceptions[0]


async def _ensure_ready(
    task_id: uuid.UUID, entry_id: int, url: str, file_name: str, progress: _Throttle
) -> None:
    cache_file = cache_path(settings.ROUTER.cache_dir, file_name)
    waited_on = ""
    while True:
        owner = new_owner()
        decision = await database_sync_to_async(claims.claim)(
            entry_id=entry_id, owner=owner, cache_file=cache_file, waited_on=waited_on
        )
        if decision.action == "ready":
            return
        if decision.action == "failed":
            raise DownloadError(url, decision.error)
        if decision.action == "download":
            if await _download(entry_id, url, file_name, owner, progress):
                return
            continue
        if not await database_sync_to_async(claims.is_pinned)(entry_id=entry_id, task_id=task_id):
            raise DownloadAbandoned(url, "the task no longer wants it; stopped waiting for it")
        waited_on = decision.owner
        await progress()
        await asyncio.sleep(POLL_INTERVAL)


async def _download(entry_id: int, url: str, file_name: str, owner: str, progress: _Throttle) -> bool:
    """Fetches the URL as the entry's owner; False if another downloader took over meanwhile."""
    config = settings.ROUTER
    temp_file = temp_path(config.cache_dir, file_name, owner_token(owner))
    cache_file = cache_path(config.cache_dir, file_name)
    transfer = Transfer()
    options = FetchOptions(
        timeout=config.download_timeout,
        block_private_networks=config.block_private_networks,
        max_bytes=config.max_cache_bytes,
    )

    def reserve_and_evict(room: int) -> None:
        if claims.reserve(entry_id=entry_id, owner=owner, room=room):
            evict(max_bytes=config.max_cache_bytes, incoming=room, exclude_id=entry_id)

    async def make_room(room: int) -> None:
        await database_sync_to_async(reserve_and_evict)(room)

    def beat() -> bool:
        claims.heartbeat(
            entry_id=entry_id,
            owner=owner,
            bytes_done=transfer.bytes_done,
            bytes_total=transfer.bytes_total,
        )
        return claims.is_pinned(entry_id=entry_id)

    async def step_aside() -> None:
        temp_file.unlink(missing_ok=True)
        await asyncio.shield(database_sync_to_async(claims.give_up)(entry_id=entry_id, owner=owner))

    async def watch() -> None:
        """Heartbeats and reports progress; returns once no task pins the entry any more."""
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            try:
                if not await database_sync_to_async(beat)():
                    return
            except Exception:
                logger.exception("Download heartbeat of %s failed", url)
            await progress()

    try:
        config.cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error = DownloadError(url, f"cannot create the cache directory: {exc}")
        await database_sync_to_async(claims.mark_failed)(
            entry_id=entry_id, owner=owner, error=error.message
        )
        raise error from None
    logger.info("Downloading %s into %s", url, cache_file)
    started = time.monotonic()
    fetching = asyncio.ensure_future(
        fetch_with_retries(url, temp_file, options=options, transfer=transfer, make_room=make_room)
    )
    watching = asyncio.ensure_future(watch())
    try:
        size = await _unless_unwanted(fetching, watching, url)
    except DownloadAbandoned as exc:
        logger.info("Download stopped: %s", exc.message)
        await step_aside()
        raise
    except DownloadError as exc:
        logger.warning("Download failed: %s", exc.message)
        await database_sync_to_async(claims.mark_failed)(
            entry_id=entry_id, owner=owner, error=exc.message
        )
        raise
    except BaseException:
        await step_aside()
        raise
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    won = await database_sync_to_async(claims.mark_ready)(
        entry_id=entry_id, owner=owner, temp_file=temp_file, cache_file=cache_file, size=size
    )
    if won:
        elapsed = max(time.monotonic() - started, 1e-6)
        logger.info("Downloaded %s: %d bytes in %.1fs (%.1f MB/s)", url, size, elapsed, size / elapsed / 1e6)
        await database_sync_to_async(evict)(max_bytes=config.max_cache_bytes)
    return won


async def _unless_unwanted(
    fetching: asyncio.Future[int], watching: asyncio.Future[None], url: str
) -> int:
    """The fetch's size; DownloadAbandoned if the watcher ends first (no task wants the file),
    after the fetch has stopped and removed its file. Cancelled, it stops the fetch too."""
    try:
        await asyncio.wait({fetching, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not fetching.done():
            fetching.cancel()
            await asyncio.gather(fetching, return_exceptions=True)
    if fetching.cancelled():
        raise DownloadAbandoned(url, "no unfinished task wants it any more; stopped")
    return fetching.result()


def cache_release_task(*, task_id: uuid.UUID) -> None:
    """Unpins the task's entries and lets the cache shrink back under its limit."""
    if claims.unpin(task_id=task_id):
        evict(max_bytes=settings.ROUTER.max_cache_bytes)


async def acache_release_task(*, task_id: uuid.UUID) -> None:
    await database_sync_to_async(cache_release_task)(task_id=task_id)


def cache_prune(*, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
    limit = settings.ROUTER.max_cache_bytes if max_bytes is None else max_bytes
    before = ready_bytes()
    removed = evict(max_bytes=limit, dry_run=dry_run)
    after = before - sum(entry.size for entry in removed) if dry_run else ready_bytes()
    return PruneReport(
        limit=limit,
        bytes_before=before,
        bytes_after=after,
        pinned_bytes=pinned_bytes(),
        removed=removed,
        dry_run=dry_run,
    )


def cache_entry_delete(*, entry_id: int) -> int | None:
    """Deletes an unpinned entry whatever its status (admin); raises EntryPinned otherwise."""
    return entry_delete(entry_id=entry_id, only_ready=False)




