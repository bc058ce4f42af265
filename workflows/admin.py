"""Tasks in the admin: status, node, duration, and thumbnails of the preview and the outputs.

Output files are served to the admin by an admin view, since the API's own output URLs need
Basic auth that a logged-in browser session does not send. A task that has not finished is
never deleted, only cancelled (deleting it would leave its node held for nothing); a finished
one goes with its output files, or is retried: a copy submitted through `task_submit`, for the
same client (against its pending limit).
A waiting or running task's page polls the public preview endpoint (`task_live.js`).
"""

from __future__ import annotations

import json
import shutil
import uuid
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from workflows.api.outputs import is_inline_image, output_response
from workflows.execution import run_requests
from workflows.models import Task
from workflows.tasks.files import outputs_dir
from workflows.tasks.selectors import output_path, preview_data_url
from workflows.tasks.services import (
    QueueFull,
    TaskNotCancellable,
    task_announce,
    task_copy,
    task_submit,
)

STATUS_COLOURS = {
    Task.Status.PENDING: "#757575",
    Task.Status.DOWNLOADING: "#6a1b9a",
    Task.Status.RUNNING: "#1565c0",
    Task.Status.DONE: "#2e7d32",
    Task.Status.ERROR: "#c62828",
    Task.Status.CANCELLED: "#ef6c00",
}
THUMBNAIL = "max-height:64px;max-width:96px;margin-right:4px;border:1px solid #ccc"
JSON_BLOCK = "max-height:32em;overflow:auto;white-space:pre-wrap"
LIST_TEXT_CHARACTERS = 80
# How often a waiting or running task's page asks for its progress (task_live.js).
LIVE_POLL_MILLISECONDS = 1000


def shorten(text: str) -> str:
    if len(text) <= LIST_TEXT_CHARACTERS:
        return text
    return text[: LIST_TEXT_CHARACTERS - 1] + "…"


def pretty_json(value: Any) -> SafeString:
    return format_html(
        '<pre class="task-json" style="{}">{}</pre>',
        JSON_BLOCK,
        json.dumps(value, indent=2, ensure_ascii=False),
    )


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = (
        "short_id", "type", "status_badge", "prompt_shown", "model_shown", "error_first_line",
        "submitted_by", "node", "duration", "created_at", "thumbnails",
    )
    list_filter = ("status", "type", "submitted_by")
    search_fields = ("id", "prompt_id")
    list_select_related = ("node", "submitted_by")
    ordering = ("-created_at",)
    readonly_fields = (
        "id", "type", "status_badge", "submitted_by", "node", "attempts", "progress", "prompt_id",
        "client_id",
        "created_at", "started_at", "finished_at", "duration", "error_json", "thumbnails",
        "params_json", "graph_json", "outputs",
    )
    fields = readonly_fields
    list_per_page = 50
    actions = ("cancel_tasks", "retry_tasks")
    change_form_template = "admin/workflows/task/change_form.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("graph")

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
                run_requests.cancel(task_id)
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

    @admin.action(description="Retry selected finished tasks (submits a copy of each)")
    def retry_tasks(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        for task in queryset.filter(status__in=Task.FINISHED).order_by("created_at"):
            if self._retry(request, task) is None:
                return
        unfinished = queryset.exclude(status__in=Task.FINISHED).count()
        if unfinished:
            self.message_user(
                request, f"{unfinished} unfinished task(s) not retried.", messages.WARNING
            )

    def _retry(self, request: HttpRequest, task: Task) -> Task | None:
        """Submits a copy of `task` and says which task it made; None when the queue is full."""
        try:
            # The copy's webhook links to outputs as the original's did.
            base_url = task.base_url or request.build_absolute_uri("/").rstrip("/")
            copy = task_submit(
                submission=task_copy(task), base_url=base_url, client_id=task.submitted_by_id
            )
        except QueueFull as full:
            self.message_user(request, f"Task {task.id} not retried: {full}", messages.ERROR)
            return None
        task_announce(copy)
        link = reverse("admin:workflows_task_change", args=[copy.pk])
        self.message_user(
            request,
            format_html('Task {} retried as new task <a href="{}">{}</a>.', task.id, link, copy.id),
            messages.SUCCESS,
        )
        return copy

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

    @admin.display(description="prompt")
    def prompt_shown(self, task: Task) -> str:
        prompt = (task.params or {}).get("prompt")
        if isinstance(prompt, dict):
            return f"graph of {len(prompt)} nodes"
        if isinstance(prompt, str):
            return shorten(prompt)
        return "–"

    @admin.display(description="model")
    def model_shown(self, task: Task) -> str:
        return shorten(task.main_model.rsplit("/", 1)[-1]) if task.main_model else "–"

    @admin.display(description="error")
    def error_first_line(self, task: Task) -> str:
        error = task.error
        message = str(error.get("message") or "") if isinstance(error, dict) else str(error or "")
        lines = message.strip().splitlines()
        return shorten(lines[0]) if lines else ""

    @admin.display(description="params")
    def params_json(self, task: Task) -> SafeString:
        return pretty_json(task.params)

    @admin.display(description="graph")
    def graph_json(self, task: Task) -> SafeString:
        return pretty_json(task.graph)

    @admin.display(description="error")
    def error_json(self, task: Task) -> SafeString | str:
        return "–" if task.error is None else pretty_json(task.error)

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
            path(
                "<uuid:task_id>/cancel/",
                self.admin_site.admin_view(require_POST(self.cancel_view)),
                name="workflows_task_cancel",
            ),
            path(
                "<uuid:task_id>/retry/",
                self.admin_site.admin_view(require_POST(self.retry_view)),
                name="workflows_task_retry",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        task = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if task is not None:
            context["task_finished"] = task.is_finished
            if not task.is_finished:
                context["live_poll_url"] = reverse("preview", args=[task.pk])
                context["live_poll_milliseconds"] = LIVE_POLL_MILLISECONDS
                context["live_task"] = task
        return super().change_view(request, object_id, form_url, context)

    def cancel_view(self, request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404("No such task")
        self.cancel_tasks(request, Task.objects.filter(pk=task_id))
        return HttpResponseRedirect(reverse("admin:workflows_task_change", args=[task_id]))

    def retry_view(self, request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
        task = Task.objects.filter(pk=task_id, status__in=Task.FINISHED).first()
        if task is None or not self.has_view_permission(request):
            raise Http404("No finished task with this id")
        copy = self._retry(request, task)
        target = task if copy is None else copy
        return HttpResponseRedirect(reverse("admin:workflows_task_change", args=[target.pk]))

    def output_view(self, request: HttpRequest, task_id: uuid.UUID, index: int) -> HttpResponse:
        task = Task.objects.filter(pk=task_id).first()
        file = output_path(task, index) if task else None
        if task is None or file is None:
            raise Http404("No such output")
        output = next(o for o in task.outputs if o["index"] == index)
        return output_response(file, output)
