"""A task's download step: its URL files fetched into the shared cache (`downloads`) and linked
into ComfyUI's folders, before the task may have a node. The dispatcher starts one per task
that has files to fetch, under a lease on the task that the download renews as it goes."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit

from channels.db import database_sync_to_async

from comfy_router.wakeups import dispatch_wakeup
from downloads.services import DownloadError, cache_prepare_task, cache_release_task
from workflows.graphs.builders import FileToFetch
from workflows.models import Task
from workflows.tasks import leases, live
from workflows.tasks.endings import TaskError, finish

logger = logging.getLogger(__name__)


async def prepare(task_id: uuid.UUID, owner: str) -> None:
    """Fetches the task's files into the cache; the task then waits for a node. A downloader too
    slow to renew its lease may find the task queued again and downloading elsewhere: it then
    leaves the task (and its cache pins) to that run."""
    task = await Task.objects.aget(pk=task_id)
    files = [FileToFetch(**spec) for spec in task.files]

    async def renew() -> None:
        if not await database_sync_to_async(leases.lease_renew)(task_id=task_id, owner=owner):
            await release_if_ended(task_id)  # cancelled before its pins were made: stop now

    logger.info(
        "Task %s downloading %d file(s): %s", task_id, len(files),
        ", ".join(f"{f.folder}/{f.name} from {url_without_query(f.url)}" for f in files),
        extra={"task_id": str(task_id)},
    )
    await live.publish(task_id, {"type": "status", "status": "downloading"})
    try:
        await cache_prepare_task(task_id=task_id, files=files, on_progress=renew)
    except DownloadError as failure:
        await finish(task_id, Task.Status.ERROR, TaskError(f"Download failed: {failure}"), owner=owner)
        return
    except Exception:
        logger.exception("Task %s: preparing its files failed", task_id)
        failure = TaskError("Preparing the task's files failed inside the router; see its log.")
        await finish(task_id, Task.Status.ERROR, failure, owner=owner)
        return
    ready = await Task.objects.filter(
        pk=task_id, status=Task.Status.DOWNLOADING, lease_owner=owner
    ).aupdate(status=Task.Status.PENDING, files_ready=True, lease_owner="", lease_expires_at=None)
    if ready:
        await live.publish(task_id, {"type": "status", "status": "pending"})
        await dispatch_wakeup()
    else:
        await release_if_ended(task_id)


def url_without_query(url: str) -> str:
    """What a log may show of a download's URL: its query and user info may be credentials."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl()


async def release_if_ended(task_id: uuid.UUID) -> None:
    """A task cancelled while its download started lets go of its pins at its end, but the
    download may pin after that; its downloads stop once nothing pins them."""
    if not await Task.objects.filter(pk=task_id, status__in=Task.UNFINISHED).aexists():
        await database_sync_to_async(cache_release_task)(task_id=task_id)
