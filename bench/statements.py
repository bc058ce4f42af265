"""Benchmark: the statements every task runs (comfy_router.statements) against the same ones
built by the ORM, as the router wrote them before.

Claiming a node to queue ahead, releasing it, starting a task, ending it, a submission's two
reads (how many tasks are unfinished; whether a node has room), a pass's read of a task it
started, for its run, and adding a busy second's metrics (`comfy_router.counters`, one row per
series): each `--runs` times in its
ORM form and in ours, in turns for `--rounds` rounds, on a fresh SQLite database in this process
(a pool of 20 nodes and 400 tasks), inside one transaction rolled back at the end so that both
forms see the same rows. Printed: the median milliseconds per statement, and the ORM's over ours.

    .venv/bin/python bench/statements.py [--runs 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import django_in_this_process, machine, median, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    django_in_this_process("bench-statements-")
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import F, Q
    from django.utils import timezone

    from comfy_router.counters import histogram_series
    from comfy_router.models import MetricCounter
    from comfy_router.statements import Condition, add_to_rows, one_of, update_row
    from nodes.models import Node, can_queue_ahead
    from nodes.selectors import node_can_take_a_task
    from workflows.models import Task
    from workflows.scheduling.assignment import RUN_FIELDS, tasks_to_run
    from workflows.tasks.selectors import unfinished_count

    call_command("migrate", verbosity=0)
    busy = Node.Status.BUSY
    nodes = [
        Node.objects.create(url=f"http://127.0.0.1:{9000 + i}", status=busy, held=2)
        for i in range(20)
    ]
    node = nodes[0]
    Node.objects.filter(pk=node.pk).update(held=1)
    tasks = [
        Task(type="ComfyUI", params={}, graph={}, client_id=uuid.uuid4().hex, prompt_id=str(i))
        for i in range(400)
    ]
    Task.objects.bulk_create(tasks)
    task = tasks[0]
    now = timezone.now()
    running = {"status": Task.Status.RUNNING, "node": node.pk, "started_at": now}
    ended = {"status": Task.Status.DONE, "finished_at": now, "lease_owner": "", "outputs": []}
    room = Q(status=busy, enabled=True, held__gte=1, held__lt=2)
    # What a second of 100 tasks a second adds up: three histograms and a few counters.
    metrics = {
        **histogram_series("task_wait_seconds", 0.004),
        **histogram_series("task_run_seconds", 0.21),
        **histogram_series("node_idle_seconds", 0.0004),
        **{(f"comfy_router_counter_{i}", ""): 1.0 for i in range(4)},
    }
    MetricCounter.objects.bulk_create(
        [MetricCounter(name=name, labels=labels) for name, labels in metrics]
    )

    def metrics_by_orm() -> None:
        for (name, labels), amount in metrics.items():
            if not MetricCounter.objects.filter(name=name, labels=labels).update(
                value=F("value") + amount
            ):
                MetricCounter.objects.create(name=name, labels=labels, value=amount)

    metric_rows = [(name, labels, amount) for (name, labels), amount in metrics.items()]
    running_task = tasks[1]
    Task.objects.filter(pk=running_task.pk).update(status=Task.Status.RUNNING, node=node)

    def started_by_orm() -> object:
        running = Task.objects.filter(
            pk__in=[running_task.pk], status=Task.Status.RUNNING, node__isnull=False
        )
        return {t.pk: t for t in running.select_related("node").only(*RUN_FIELDS)}

    pairs: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "claim a place in a busy node's queue",
            lambda: Node.objects.filter(room, pk=node.pk).update(
                held=F("held") + 1, last_model="a.safetensors", last_loras=[]
            ),
            lambda: update_row(
                Node,
                node.pk,
                can_queue_ahead(1),
                values={"last_model": "a.safetensors", "last_loras": []},
                expressions={"held": '"held" + 1'},
            ),
        ),
        (
            "release it",
            lambda: Node.objects.filter(pk=node.pk, held__gt=1).update(held=F("held") - 1),
            lambda: update_row(
                Node, node.pk, Condition('"held" > 1'), expressions={"held": '"held" - 1'}
            ),
        ),
        (
            "start a task",
            lambda: Task.objects.filter(pk=task.pk, files_ready=True).update(
                attempts=F("attempts") + 1, **running
            ),
            lambda: update_row(
                Task,
                task.pk,
                Condition('"files_ready"'),
                values=running,
                expressions={"attempts": '"attempts" + 1'},
            ),
        ),
        (
            "end it",
            lambda: Task.objects.filter(pk=task.pk, status__in=Task.UNFINISHED).update(**ended),
            lambda: update_row(Task, task.pk, one_of("status", Task.UNFINISHED), values=ended),
        ),
        (
            "count the unfinished tasks",
            lambda: Task.objects.filter(status__in=Task.UNFINISHED).count(),
            unfinished_count,
        ),
        (
            "is there a node with room",
            lambda: Node.objects.filter(
                Q(status=Node.Status.IDLE, enabled=True, held=0) | room
            ).exists(),
            node_can_take_a_task,
        ),
        (
            "read a started task for its run",
            started_by_orm,
            lambda: tasks_to_run([running_task.pk]),
        ),
        (
            f"add a busy second's metrics ({len(metrics)} series)",
            metrics_by_orm,
            lambda: add_to_rows(MetricCounter, ("name", "labels"), "value", metric_rows),
        ),
    ]
    rows = []
    with transaction.atomic():
        for name, orm, ours in pairs:
            times: dict[str, list[float]] = {"orm": [], "ours": []}
            for _ in range(args.rounds):  # in turns, so a busy moment hits both alike
                for label, statement in (("orm", orm), ("ours", ours)):
                    started = time.perf_counter()
                    for _ in range(args.runs):
                        statement()
                    times[label].append((time.perf_counter() - started) / args.runs)
            a, b = median(times["orm"]), median(times["ours"])
            rows.append([name, a * 1000, b * 1000, a / b])
        transaction.set_rollback(True)
    print(f"statements: {args.runs} x {args.rounds} of each, SQLite, 20 nodes, 400 tasks")
    print(machine())
    print(table(["", "ORM ms", "ours ms", "ORM / ours"], rows))


if __name__ == "__main__":
    main()
