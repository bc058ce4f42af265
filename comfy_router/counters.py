"""Persistent counters and histograms in the database, so every process adds to the same series
and a restart or the task history limit loses nothing. One UPDATE per counter increment, two per
histogram observation."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.db import transaction
from django.db.models import F

from comfy_router.models import MetricCounter

HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    "task_wait_seconds": (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, math.inf),
    "task_run_seconds": (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, math.inf),
}

def bucket_label(bound: float) -> str:
    return "le=+Inf" if bound == math.inf else f"le={bound:g}"


def counter_add(name: str, amount: float = 1.0, *, labels: str = "") -> None:
    _add(name, [labels], amount)


def histogram_observe(name: str, value: float) -> None:
    buckets = [bucket_label(bound) for bound in HISTOGRAM_BUCKETS[name] if value <= bound]
    _add(name, buckets, 1.0)
    _add(f"{name}_sum", [""], value)


def _add(name: str, label_sets: Sequence[str], amount: float) -> None:
    rows = MetricCounter.objects.filter(name=name, labels__in=label_sets)
    with transaction.atomic():
        if rows.update(value=F("value") + amount) == len(label_sets):
            return
        present = set(rows.values_list("labels", flat=True))
        MetricCounter.objects.bulk_create(
            [
                MetricCounter(name=name, labels=labels, value=amount)
                for labels in label_sets
                if labels not in present
            ],
            ignore_conflicts=True,
        )


def counter_values() -> dict[tuple[str, str], float]:
    return {
        (name, labels): value
        for name, labels, value in MetricCounter.objects.values_list("name", "labels", "value")
    }
