"""Cache entries in the admin: what is cached, how big, when last used, where linked, which tasks
pin it; deleting removes the file and its links and is refused for pinned entries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from comfy_router.sizes import format_size
from downloads.models import CacheEntry
from downloads.services import EntryPinned, cache_entry_delete


@admin.register(CacheEntry)
class CacheEntryAdmin(admin.ModelAdmin):
    list_display = ("key", "human_size", "status", "last_used", "linked_as", "pinned_by")
    list_filter = ("status",)
    search_fields = ("key", "file_name")
    ordering = ("-last_used",)
    actions = ["delete_unpinned"]
    readonly_fields = (
        "key",
        "file_name",
        "status",
        "size",
        "bytes_done",
        "bytes_total",
        "error",
        "owner",
        "heartbeat_at",
        "last_used",
        "created_at",
        "completed_at",
        "linked_as",
        "pinned_by",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CacheEntry]:
        return super().get_queryset(request).prefetch_related("links", "uses")

    @admin.display(description="size", ordering="size")
    def human_size(self, entry: CacheEntry) -> str:
        if entry.status == CacheEntry.Status.DOWNLOADING:
            total = format_size(entry.bytes_total) if entry.bytes_total else "?"
            return f"{format_size(entry.bytes_done)} of {total}"
        return str(format_size(entry.size))

    @admin.display(description="links")
    def linked_as(self, entry: CacheEntry) -> str:
        return ", ".join(sorted(str(link) for link in entry.links.all())) or "-"

    @admin.display(description="pinned by")
    def pinned_by(self, entry: CacheEntry) -> str:
        return ", ".join(sorted({str(use.task_id) for use in entry.uses.all()})) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or not obj.uses.exists()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Delete selected entries with their files and links (unpinned only)")
    def delete_unpinned(self, request: HttpRequest, queryset: QuerySet[CacheEntry]) -> None:
        deleted, refused = [], []
        for entry in queryset:
            try:
                cache_entry_delete(entry_id=entry.pk)
                deleted.append(entry.key)
            except EntryPinned:
                refused.append(entry.key)
        if deleted:
            self.message_user(request, f"Deleted {len(deleted)} cache entries.", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                "Refused, pinned by unfinished tasks: " + ", ".join(refused),
                messages.ERROR,
            )

    def delete_model(self, request: HttpRequest, obj: CacheEntry) -> None:
        try:
            cache_entry_delete(entry_id=obj.pk)
        except EntryPinned:
            self.message_user(request, f"{obj.key} is pinned by an unfinished task.", messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CacheEntry]) -> None:
        self.delete_unpinned(request, queryset)
