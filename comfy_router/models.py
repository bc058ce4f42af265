"""Counters that must survive restarts and be shared by every process (read by /metrics)."""

from __future__ import annotations

from django.db import models


class MetricCounter(models.Model):
    """One monotonically growing series: `name` plus its labels, rendered `key=value,...`.
    A histogram keeps one row per bucket (`le=...`) and one `<name>_sum` row."""

    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=200, blank=True, default="")
    value = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "labels"], name="metric_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.value:g}"
