"""The operator's view of the node pool: add, edit, enable, disable, check and delete nodes.

Status is the health monitor's and the dispatcher's to change, so the admin never writes it: an
edit saves only the fields the form changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from comfy_router.wakeups import dispatch_wakeup_sync
from nodes.labels import labels_from_text
from nodes.models import RUNS_A_TASK, Node
from nodes.node_url import InvalidNodeURL, normalize_node_url
from nodes.probe import validate_token
from nodes.selectors import task_model, with_current_task
from nodes.services import node_check_now, node_set_enabled

EDITABLE_FIELDS = ("url", "name", "enabled", "token", "labels")
BADGE_COLOURS = {
    Node.Status.IDLE: "#2e7d32",
    Node.Status.BUSY: "#1565c0",
    Node.Status.OFFLINE: "#c62828",
}
GIB = 1024**3


class NodeAdminForm(forms.ModelForm):
    token = forms.CharField(
        required=False,
        max_length=500,
        validators=[validate_token],
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
        help_text=Node._meta.get_field("token").help_text,
    )

    labels = forms.CharField(
        required=False,
        help_text="Separated by commas or spaces (`gpu-80gb, video`): submissions that ask for "
        "labels (`node_labels`) go only to nodes with all of them.",
    )

    class Meta:
        model = Node
        fields = list(EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["labels"] = ", ".join(self.instance.labels or [])

    def clean_labels(self) -> list[str]:
        try:
            return labels_from_text(self.cleaned_data.get("labels") or "")
        except DjangoValidationError as error:
            raise forms.ValidationError(error.messages) from None

    def clean_url(self) -> str:
        try:
            return normalize_node_url(self.cleaned_data.get("url") or "")
        except InvalidNodeURL as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    form = NodeAdminForm
    list_display = (
        "url",
        "name",
        "status_badge",
        "held",
        "enabled",
        "last_seen_at",
        "health_failures",
        "device_name",
        "vram",
        "labels_shown",
        "current_task",
    )
    list_filter = ("status", "enabled")
    search_fields = ("url", "name")
    actions = ("enable_nodes", "disable_nodes", "check_nodes_now")
    readonly_fields = (
        "status_badge",
        "health_failures",
        "last_check_at",
        "last_seen_at",
        "last_error",
        "device_name",
        "vram",
        "comfyui_version",
        "system_stats",
        "node_class_count",
        "model_files_shown",
        "capabilities_at",
        "held",
        "current_task",
        "last_model",
        "last_loras",
        "idle_since",
        "created_at",
    )
    fieldsets = (
        (None, {"fields": EDITABLE_FIELDS}),
        (
            "Health",
            {
                "fields": (
                    "status_badge",
                    "health_failures",
                    "last_check_at",
                    "last_seen_at",
                    "last_error",
                    "device_name",
                    "vram",
                    "comfyui_version",
                    "system_stats",
                )
            },
        ),
        (
            "What it can run",
            {"fields": ("node_class_count", "model_files_shown", "capabilities_at")},
        ),
        (
            "Scheduling",
            {
                "fields": (
                    "held",
                    "current_task",
                    "last_model",
                    "last_loras",
                    "idle_since",
                    "created_at",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Node]:
        return with_current_task(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: Node | None = None) -> Any:
        """A node being added has no status, health or capabilities until it is checked."""
        if obj is None:
            return ((None, {"fields": EDITABLE_FIELDS}),)
        return super().get_fieldsets(request, obj)

    @admin.display(description="status", ordering="status")
    def status_badge(self, node: Node) -> SafeString:
        return format_html(
            '<span class="node-status node-status-{}" style="background:{};color:#fff;'
            'padding:2px 8px;border-radius:9px;font-weight:bold">{}</span>',
            node.status,
            BADGE_COLOURS.get(node.status, "#757575"),
            node.get_status_display().lower(),
        )

    @admin.display(description="VRAM free / total")
    def vram(self, node: Node) -> str:
        if node.vram_total is None:
            return "-"
        free = "?" if node.vram_free is None else f"{node.vram_free / GIB:.1f}"
        return f"{free} / {node.vram_total / GIB:.1f} GiB"

    @admin.display(description="labels")
    def labels_shown(self, node: Node) -> str:
        return ", ".join(node.labels) or "-"

    @admin.display(description="node classes")
    def node_class_count(self, node: Node) -> str:
        return str(len(node.node_classes)) if node.has_reported else "not known yet"

    @admin.display(description="model files")
    def model_files_shown(self, node: Node) -> str | SafeString:
        if not node.has_reported:
            return "not known yet"
        folders = [(folder, names) for folder, names in sorted(node.model_files.items()) if names]
        if not folders:
            return "none"
        return format_html_join(
            "",
            "<div><b>{}</b>: {}</div>",
            ((folder, ", ".join(names)) for folder, names in folders),
        )

    @admin.display(description="current task")
    def current_task(self, node: Node) -> str | SafeString:
        task_id = getattr(node, "current_task_id", None)
        model = task_model()
        if task_id is None or model is None:
            return "-"
        opts = model._meta
        try:
            link = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[task_id])
        except NoReverseMatch:
            return str(task_id)
        return format_html('<a href="{}">{}</a>', link, task_id)

    def save_model(
        self, request: HttpRequest, obj: Node, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            obj.save()
            self._check(request, [obj], added=True)
            return
        fields = [name for name in form.changed_data if name in EDITABLE_FIELDS]
        if "labels" in fields:
            obj.profile_changed_at = timezone.now()
            fields.append("profile_changed_at")
        if fields:
            obj.save(update_fields=fields)
        if "enabled" in fields and obj.enabled:
            dispatch_wakeup_sync()
        if {"url", "token"} & set(fields):
            self._check(request, [obj], added=False)

    def _check(self, request: HttpRequest, nodes: Sequence[Node], *, added: bool) -> int | None:
        """Checks the nodes now and says which did not answer; None when they could not be
        checked now (other requests are checking nodes), which the operator is told too."""
        probes = node_check_now(nodes=nodes)
        if probes is None:
            interval = settings.ROUTER.health_interval
            message = (
                f"Not checked now, as the router is checking nodes for other requests: the "
                f"health monitor checks every node within {interval:g} s."
            )
            self.message_user(request, message, messages.WARNING)
            return None
        silent = [node for node in nodes if not probes[node.pk].ok]
        outcome = ": saved as offline; it turns idle once it answers /system_stats" if added else ""
        for node in silent:
            error = probes[node.pk].error
            message = f"Node {node.url} does not answer ({error}){outcome}."
            self.message_user(request, message, messages.WARNING)
        for node in nodes:
            node.refresh_from_db()
        return len(nodes) - len(silent)

    def has_delete_permission(self, request: HttpRequest, obj: Node | None = None) -> bool:
        """A node running a task is kept: disable it, and delete it once its task ended (the API's
        `force` is the deliberate way to drop it mid-task)."""
        if obj is not None and obj.runs_a_task:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        """After the confirmation: a node given a task since then is kept, and the operator told."""
        queryset.exclude(RUNS_A_TASK).delete()
        kept = queryset.count()
        if kept:
            self.message_user(
                request, f"{kept} node(s) started a task meanwhile and were kept.", messages.WARNING
            )

    @admin.action(description="Enable selected nodes")
    def enable_nodes(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        count = node_set_enabled(node_ids=queryset.values_list("pk", flat=True), enabled=True)
        self.message_user(request, f"Enabled {count} node(s).", messages.SUCCESS)

    @admin.action(description="Disable selected nodes (a running task finishes)")
    def disable_nodes(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        count = node_set_enabled(node_ids=queryset.values_list("pk", flat=True), enabled=False)
        self.message_user(request, f"Disabled {count} node(s).", messages.SUCCESS)

    @admin.action(description="Check selected nodes now")
    def check_nodes_now(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        nodes = list(queryset.only("pk", "url", "token"))
        answered = self._check(request, nodes, added=False)
        if answered is None:
            return
        self.message_user(request, f"{answered} of {len(nodes)} node(s) answered.", messages.INFO)

