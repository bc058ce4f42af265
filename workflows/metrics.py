"""What tasks add to the persistent counters behind /metrics (comfy_router.counters)."""

from __future__ import annotations

from django.utils import timezone

from comfy_router.counters import counter_add, histogram_observe
from workflows.models import Task


def task_started(task: Task, *, warm: bool) -> None:
    """A task got a node; `warm`: the node already held its main model."""
    if task.main_model:
        counter_add("model_loads_avoided" if warm else "model_loads")
    if task.attempts == 0:  # the wait for a first node, not a retry's
        histogram_observe("task_wait_seconds", (timezone.now() - task.created_at).total_seconds())


def task_finished(task: Task) -> None:
    counter_add("tasks_finished", labels=f"status={task.status}")
    if task.started_at is not None and task.finished_at is not None:
        histogram_observe("task_run_seconds", (task.finished_at - task.started_at).total_seconds())
