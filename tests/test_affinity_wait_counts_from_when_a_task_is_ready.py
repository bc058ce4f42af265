"""A task's affinity wait counts from its creation, or from the end of its last download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from downloads.models import CacheEntry, CacheUse
from workflows.models import Task
from workflows.scheduling import seconds_ready

pytestmark = pytest.mark.django_db


def created(seconds_ago: float, files: list[dict[str, str]] | None = None) -> Task:
    task = Task.objects.create(type=Task.Type.COMFYUI, params={}, graph={}, files=files or [])
    earlier = timezone.now() - timedelta(seconds=seconds_ago)
    Task.objects.filter(pk=task.pk).update(created_at=earlier)
    task.refresh_from_db()
    return task


def downloaded(task: Task, name: str, seconds_ago: float) -> None:
    entry = CacheEntry.objects.create(
        file_name=name, key=f"http://x/{name}", status=CacheEntry.Status.READY,
        completed_at=timezone.now() - timedelta(seconds=seconds_ago),
    )
    CacheUse.objects.create(entry=entry, task_id=task.pk, url=entry.key, folder="models/loras")


def test_a_task_without_files_has_been_ready_since_it_was_created() -> None:
    task = created(30)
    assert 30 <= seconds_ready([task])[task.pk] < 40


def test_a_task_with_files_has_been_ready_since_its_last_download_ended() -> None:
    task = created(60, files=[{"url": "http://x/a"}, {"url": "http://x/b"}])
    downloaded(task, "a.safetensors", seconds_ago=50)
    downloaded(task, "b.safetensors", seconds_ago=5)
    assert 5 <= seconds_ready([task])[task.pk] < 15


def test_a_file_cached_before_the_task_came_counts_from_the_task() -> None:
    task = created(20, files=[{"url": "http://x/old"}])
    downloaded(task, "old.safetensors", seconds_ago=3600)
    assert 20 <= seconds_ready([task])[task.pk] < 30
