"""Persistent counters and histograms in the database, so every process adds to the same series
and a restart or the task history limit loses nothing. One UPDATE per increment or observation."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction
from django.db.models import Case, F, FloatField, Q, Value, When

from comfy_router.models import MetricCounter

HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    "task_wait_seconds": (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, math.inf),
    "task_run_seconds": (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, math.inf),
}


def bucket_label(bound: float) -> str:
    return "le=+Inf" if bound == math.inf else f"le={bound:g}"


Series = dict[tuple[str, str], float]  # (name, labels) -> amount to add


def counter_add(name: str, amount: float = 1.0, *, labels: str = "") -> None:
    series_add({(name, labels): amount})


def histogram_observe(name: str, value: float) -> None:
    series_add(histogram_series(name, value))


def histogram_series(name: str, value: float) -> Series:
    series = {(name, bucket_label(b)): 1.0 for b in HISTOGRAM_BUCKETS[name] if value <= b}
    series[(f"{name}_sum", "")] = value
    return series


def series_add(series: Series) -> None:
    """One UPDATE for every series; the rare first increment of a series creates its row."""
    match = Q()
    for name, labels in series:
        match |= Q(name=name, labels=labels)
    amounts = set(series.values())
    if len(amounts) == 1:
        increment: Any = Value(amounts.pop())
    else:
        cases = (When(name=n, labels=labels, then=Value(a)) for (n, labels), a in series.items())
        increment = Case(*cases, output_field=FloatField())
    rows = MetricCounter.objects.filter(match)
    if rows.update(value=F("value") + increment) == len(series):
        return
    with transaction.atomic():
        present = set(rows.values_list("name", "labels"))
        MetricCounter.objects.bulk_create(
            [
                MetricCounter(name=name, labels=labels, value=amount)
                for (name, labels), amount in series.items()
                if (name, labels) not in present
            ],
            ignore_conflicts=True,
        )


def counter_values() -> dict[tuple[str, str], float]:
    return {
        (name, labels): value
        for name, labels, value in MetricCounter.objects.values_list("name", "labels", "value")
    }
