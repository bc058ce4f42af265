"""`manage.py serve` with changes only a benchmark wants, chosen by flags:

    --first-idle   schedule without model affinity (each task to the node idle longest), the
                   baseline of bench/affinity.py
    --bare-view    also serve `GET /bench/bare`, a bare JSON view, the baseline of bench/api.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def first_idle_plan(
    tasks: Sequence[object],
    idle_nodes: Sequence[object],
    *,
    busy_models: Iterable[str],
    waited: dict[Hashable, float],
    affinity_wait: float,
) -> object:
    from workflows.scheduling.affinity import Assignment, Plan

    pairs = zip(tasks, idle_nodes)
    assignments = [
        Assignment(task=t, node=n, warm=bool(t.main_model) and n.last_model == t.main_model)
        for t, n in pairs  # type: ignore[attr-defined]
    ]
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
