"""Tasks in the admin: status, node, duration, and thumbnails of the preview and the outputs.

Output files are served to the admin by an admin view, since the API's own output URLs need
Basic auth that a logged-in browser session does not send. A task that has not finished is
never deleted, only cancelled (deleting it would leave its node held for nothing); a finished
one goes with its output files.
"""

from __future__ import annotations

import shutil
import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from workflows.api.outputs import is_inline_image, output_response
from workflows.models import Task
from workflows.tasks.files import outputs_dir
from workflows.tasks.selectors import output_path, preview_data_url
from workflows.tasks.services import TaskNotCancellable, task_request_cancel

STATUS_COLOURS = {
    Task.Status.PENDING: "#757575",
    Task.Status.DOWNLOADING: "#6a1b9a",
    Task.Status.RUNNING: "#1565c0",
    Task.Status.DONE: "#2e7d32",
    Task.Status.ERROR: "#c62828",
    Task.Status.CANCELLED: "#ef6c00",
}
THUMBNAIL = "max-height:64px;max-width:96px;margin-right:4px;border:1px solid #ccc"


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("short_id", "type", "status_badge", "node", "duration", "created_at", "thumbnails")
    list_filter = ("status", "type")
    search_fields = ("id", "prompt_id")
    list_select_related = ("node",)
    ordering = ("-created_at",)
    readonly_fields = (
        "id", "type", "status_badge", "node", "attempts", "progress", "prompt_id", "client_id",
        "created_at", "started_at", "finished_at", "duration", "error", "thumbnails", "params",
        "graph", "outputs",
    )
    fields = readonly_fields
    list_per_page = 50
    actions = ["cancel_tasks"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("graph", "params")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not obj.is_finished:
            return False  # cancel it instead
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """What a bulk delete lists and checks: the finished tasks; the others are cancelled."""
        return super().get_deleted_objects([task for task in objs if task.is_finished], request)

    def delete_model(self, request: HttpRequest, obj: Task) -> None:
        self.delete_queryset(request, Task.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        """Deletes the finished tasks with their files; unfinished ones are cancelled instead."""
        unfinished = list(queryset.exclude(status__in=Task.FINISHED).values_list("pk", flat=True))
        finished = list(queryset.filter(status__in=Task.FINISHED).values_list("pk", flat=True))
        Task.objects.filter(pk__in=finished, status__in=Task.FINISHED).delete()
        for task_id in finished:
            shutil.rmtree(outputs_dir(task_id), ignore_errors=True)
        if unfinished:
            self.cancel_tasks(request, Task.objects.filter(pk__in=unfinished))

    @admin.action(description="Cancel selected tasks")
    def cancel_tasks(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        asked = 0
        for task_id in queryset.exclude(status__in=Task.FINISHED).values_list("pk", flat=True):
            try:
                task_request_cancel(task_id=task_id)
            except TaskNotCancellable:
                continue  # it ended meanwhile
            asked += 1
        if asked:
            self.message_user(
                request,
                f"{asked} unfinished task(s) cancelled (running ones are interrupted on their "
                "node); unfinished tasks are cancelled, never deleted.",
                messages.SUCCESS,
            )

    @admin.display(description="id")
    def short_id(self, task: Task) -> str:
        return str(task.id)[:8]

    @admin.display(description="status", ordering="status")
    def status_badge(self, task: Task) -> SafeString:
        colour = STATUS_COLOURS.get(task.status, "#757575")
        label = task.status
        if task.status == Task.Status.RUNNING:
            label = f"{task.status} {task.progress:.0%}"
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:8px">{}</span>',
            colour,
            label,
        )

    @admin.display(description="duration")
    def duration(self, task: Task) -> str:
        if task.started_at is None:
            return "–"
        end = task.finished_at
        if end is None:
            end = timezone.now()
        return f"{(end - task.started_at).total_seconds():.1f} s"

    @admin.display(description="preview / outputs")
    def thumbnails(self, task: Task) -> SafeString:
        preview = preview_data_url(task)
        if preview is not None:
            return format_html('<img src="{}" style="{}" alt="preview">', preview, THUMBNAIL)
        images = [o for o in task.outputs if is_inline_image(o)]
        return format_html_join(
            "",
            '<a href="{0}"><img src="{0}" style="{1}" alt="output {2}"></a>',
            (
                (reverse("admin:workflows_task_output", args=[task.pk, o["index"]]), THUMBNAIL, o["index"])
                for o in images[:4]
            ),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<uuid:task_id>/outputs/<int:index>/",
                self.admin_site.admin_view(self.output_view),
                name="workflows_task_output",
            ),
            *super().get_urls(),
        ]

    def output_view(self, request: HttpRequest, task_id: uuid.UUID, index: int) -> HttpResponse:
        task = Task.objects.filter(pk=task_id).first()
        file = output_path(task, index) if task else None
        if task is None or file is None:
            raise Http404("No such output")
        output = next(o for o in task.outputs if o["index"] == index)
        return output_response(file, output)
