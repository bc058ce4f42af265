"""What tasks add to the persistent counters behind /metrics (comfy_router.counters)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.utils import timezone

from comfy_router.counters import Series, histogram_series, series_add
from workflows.models import Task


class StartedTask(Protocol):
    @property
    def main_model(self) -> str: ...
    @property
    def attempts(self) -> int: ...  # before this start
    @property
    def created_at(self) -> datetime: ...


def task_started(task: StartedTask, *, warm: bool, ahead: bool = False) -> None:
    """A task got a node; `warm`: the node already held its main model; `ahead`: it was queued
    behind the node's running prompt."""
    series: Series = {("prompts_queued_ahead", ""): 1.0} if ahead else {}
    if task.main_model:
        series[("model_loads_avoided" if warm else "model_loads", "")] = 1.0
    if task.attempts == 0:  # the wait for a first node, not a retry's
        waited = (timezone.now() - task.created_at).total_seconds()
        series.update(histogram_series("task_wait_seconds", waited))
    if series:
        series_add(series)


def task_finished(task: Task) -> None:
    series: Series = {("tasks_finished", f"status={task.status}"): 1.0}
    if task.started_at is not None and task.finished_at is not None:
        ran = (task.finished_at - task.started_at).total_seconds()
        series.update(histogram_series("task_run_seconds", ran))
    series_add(series)


def task_stolen() -> None:
    """A task queued ahead was taken back from its node's queue for an idle node."""
    series_add({("steals", ""): 1.0})


def node_idle_gap(seconds: float) -> None:
    """How long a node sat idle between one prompt's end and the next one's start, while the
    next one's task was already waiting (by the node's own clock)."""
    series_add(histogram_series("node_idle_seconds", seconds))
