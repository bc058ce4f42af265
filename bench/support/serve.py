"""`manage.py serve` with changes only a benchmark wants, chosen by flags:

    --first-idle   schedule without model affinity (each task to the node idle longest), the
                   baseline of bench/affinity.py
    --bare-view    also serve `GET /bench/bare`, a bare JSON view, the baseline of bench/api.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


def first_idle_plan(
    tasks: Sequence[object],
    idle_nodes: Sequence[object],
    *,
    busy_models: Iterable[str],
    waited: dict[Hashable, float],
    affinity_wait: float,
    can_run: Callable[[Any, Any], bool] = lambda task, node: True,
) -> object:
    """Each task, oldest first, to the first idle node that can run it: no affinity."""
    from workflows.scheduling.affinity import Assignment, Plan

    free = list(idle_nodes)
    assignments = []
    for task in tasks:
        node = next((n for n in free if can_run(task, n)), None)
        if node is None:
            continue
        free.remove(node)
        warm = bool(task.main_model) and node.last_model == task.main_model  # type: ignore[attr-defined]
        assignments.append(Assignment(task=task, node=node, warm=warm))
    return Plan(assignments, holding_back=[])


def main(flags: list[str]) -> None:
    sys.path.insert(0, str(PROJECT_DIR))
    os.chdir(PROJECT_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comfy_router.settings")
    import django
    from django.conf import settings

    django.setup()
    if "--first-idle" in flags:
        from workflows.scheduling import affinity as scheduling

        scheduling.plan = first_idle_plan  # type: ignore[assignment]
    if "--bare-view" in flags:
        settings.ROOT_URLCONF = "bench.support.urls"
    from django.core.management import call_command

    call_command("serve")


if __name__ == "__main__":
    main(sys.argv[1:])
