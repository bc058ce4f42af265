"""The admin index's view of the pool at a glance: nodes by status, waiting tasks, tasks that
ended in the last hour, and the cache's use against its limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from downloads.eviction import ready_bytes
from nodes.models import Node
from workflows.models import Task

register = template.Library()
RECENT = timedelta(hours=1)


def pool_at_a_glance() -> dict[str, Any]:
    counts = dict(Node.objects.order_by().values_list("status").annotate(n=Count("pk")))
    nodes = [(label.lower(), counts.get(status, 0)) for status, label in Node.Status.choices]
    since = timezone.now() - RECENT
    ended = dict(
        Task.objects.filter(finished_at__gte=since)
        .filter(status__in=(Task.Status.DONE, Task.Status.ERROR))
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    used, limit = ready_bytes(), settings.ROUTER.max_cache_bytes
    return {
        "nodes": nodes,
        "disabled_nodes": Node.objects.filter(enabled=False).count(),
        "waiting_tasks": Task.objects.filter(status__in=Task.WAITING).count(),
        "running_tasks": Task.objects.filter(status=Task.Status.RUNNING).count(),
        "done_last_hour": ended.get(Task.Status.DONE, 0),
        "failed_last_hour": ended.get(Task.Status.ERROR, 0),
        "cache_bytes": used,
        "cache_limit_bytes": limit,
        "cache_percent": round(100 * used / limit, 1) if limit else 0,
    }


@register.inclusion_tag("admin/pool_at_a_glance.html")
def pool_summary() -> dict[str, Any]:
    return pool_at_a_glance()
