"""The admin lists cache entries (URL, size, status, last used, links, pinned by) and deletes
unpinned ones with their file and links, refusing pinned ones."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from downloads.models import CacheEntry, CacheLink, CacheUse
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/downloads/cacheentry/"


@pytest.fixture
def admin_client() -> Client:
    token = base64.b64encode(b"admin:admin").decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


def cached(dirs: CacheDirs, name: str) -> CacheEntry:
    (dirs.cache_dir / name).write_bytes(b"x" * 2048)
    link = dirs.root_dir / "models/loras" / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dirs.cache_dir / name)
    entry = CacheEntry.objects.create(
        file_name=name,
        key=f"https://example.com/{name}",
        status=CacheEntry.Status.READY,
        size=2048,
        last_used=timezone.now(),
    )
    CacheLink.objects.create(entry=entry, folder="models/loras", name=name)
    return entry


def test_the_list_shows_url_size_status_links_and_pins(admin_client: Client, cache_dirs: CacheDirs) -> None:
    entry = cached(cache_dirs, "style.safetensors")
    task_id = uuid.uuid4()
    CacheUse.objects.create(entry=entry, task_id=task_id, url=entry.key, folder="models/loras")

    page = admin_client.get(LIST_URL)

    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("https://example.com/style.safetensors", "2.0 KiB", "ready", "models/loras/style.safetensors", str(task_id)):
        assert shown in text


def test_deleting_removes_the_file_and_links_but_refuses_pinned_entries(
    admin_client: Client, cache_dirs: CacheDirs
) -> None:
    free = cached(cache_dirs, "free.bin")
    pinned = cached(cache_dirs, "pinned.bin")
    CacheUse.objects.create(entry=pinned, task_id=uuid.uuid4(), url=pinned.key, folder="models/loras")

    page = admin_client.post(
        LIST_URL,
        {"action": "delete_unpinned", "_selected_action": [free.pk, pinned.pk]},
        follow=True,
    )

    assert "Refused, pinned by unfinished tasks: https://example.com/pinned.bin" in page.content.decode()
    assert list(CacheEntry.objects.values_list("file_name", flat=True)) == ["pinned.bin"]
    assert cache_dirs.files() == ["pinned.bin"]
    assert not (cache_dirs.root_dir / "models/loras/free.bin").is_symlink()
    assert (cache_dirs.root_dir / "models/loras/pinned.bin").is_symlink()


def test_an_entry_page_shows_its_details_and_no_delete_button_while_pinned(
    admin_client: Client, cache_dirs: CacheDirs
) -> None:
    entry = cached(cache_dirs, "style.safetensors")
    CacheUse.objects.create(entry=entry, task_id=uuid.uuid4(), url=entry.key, folder="models/loras")

    page = admin_client.get(f"{LIST_URL}{entry.pk}/change/")

    assert page.status_code == 200
    assert "models/loras/style.safetensors" in page.content.decode()
    assert f"{entry.pk}/delete/" not in page.content.decode()
    assert admin_client.post(f"{LIST_URL}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CacheEntry.objects.filter(pk=entry.pk).exists()
