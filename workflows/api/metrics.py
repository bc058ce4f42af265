"""GET (or HEAD) /metrics: Prometheus text format, read from the database on every scrape.

Gauges come from aggregate queries over the current rows; counters and histograms from the
persistent series in comfy_router.counters, so every process reports the same numbers and a
restart or the task history limit takes nothing back. About nine small queries per scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from clients.models import Client
from comfy_router.counters import HISTOGRAM_BUCKETS, bucket_label, counter_values
from downloads.eviction import pinned_bytes
from downloads.models import CacheEntry
from nodes.models import Node
from workflows.models import Task

PREFIX = "comfy_router_"
COUNTERS = {
    "model_loads_avoided": "Tasks given to a node that already held their main model.",
    "model_loads": "Tasks with a main model given to a node that held another one (or none).",
    "downloads": "Files downloaded into the cache.",
    "download_bytes": "Bytes downloaded into the cache.",
    "download_failures": "Downloads that failed for good.",
    "cache_evictions": "Cache entries evicted to stay under MAX_CACHE_BYTES.",
    "cache_evicted_bytes": "Bytes freed by evictions.",
    "prompts_queued_ahead": "Tasks posted into a busy node's queue behind the prompt it runs.",
    "steals": "Tasks queued ahead taken back from a busy node's queue for an idle node.",
}
HISTOGRAMS = {
    "task_wait_seconds": "From submission to the first node claimed.",
    "task_run_seconds": "From the node claimed to the task's end, for tasks that ran on a node.",
    "node_idle_seconds": "A node's idle time between one prompt's end and the next one's start "
    "while the next was waiting (by the node's clock, as seen by the process running the next).",
}


class RouterCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        task_rows = Task.objects.values("status").annotate(n=Count("pk")).order_by()
        by_status = dict(task_rows.values_list("status", "n"))
        tasks = GaugeMetricFamily(
            PREFIX + "tasks", "Tasks in the database by status (finished ones up to HISTORY_LIMIT).",
            labels=["status"],
        )
        for status in Task.Status.values:
            tasks.add_metric([status], by_status.get(status, 0))
        yield tasks
        yield GaugeMetricFamily(
            PREFIX + "queue_length", "Tasks waiting for a node (pending or downloading).",
            value=sum(by_status.get(status, 0) for status in Task.WAITING),
        )

        nodes = GaugeMetricFamily(
            PREFIX + "nodes", "Nodes by status; disabled ones are counted apart.",
            labels=["status", "enabled"],
        )
        node_rows = Node.objects.values_list("status", "enabled").annotate(n=Count("pk")).order_by()
        counts = {(status, enabled): n for status, enabled, n in node_rows}
        for status in Node.Status.values:
            for enabled in (True, False):
                nodes.add_metric([status, str(enabled).lower()], counts.get((status, enabled), 0))
        yield nodes
        held = Node.objects.filter(held__gt=1).aggregate(n=Sum("held"), nodes=Count("pk"))
        yield GaugeMetricFamily(
            PREFIX + "prompts_waiting_on_nodes",
            "Tasks queued ahead in busy nodes' own queues, behind the prompt each runs.",
            value=(held["n"] or 0) - held["nodes"],
        )

        yield from self.client_metrics()
        yield from self.cache_metrics()
        yield from self.persistent_series()

    def client_metrics(self) -> Iterator[GaugeMetricFamily]:
        """Tasks by client (its name: one series per client and status) and each client's
        queue. The operator's tasks are the difference from the totals above."""
        rows = (
            Task.objects.filter(submitted_by__isnull=False)
            .values_list("submitted_by__name", "status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        names = Client.objects.values_list("name", flat=True)
        counts: dict[str, dict[str, int]] = {name: {} for name in names}  # zeros for the idle
        for name, status, n in rows:
            counts.setdefault(name, {})[status] = n
        tasks = GaugeMetricFamily(
            PREFIX + "client_tasks", "Tasks in the database by client and status.",
            labels=["client", "status"],
        )
        queues = GaugeMetricFamily(
            PREFIX + "client_queue_length", "A client's tasks waiting for a node.",
            labels=["client"],
        )
        for name, by_status in sorted(counts.items()):
            for status in Task.Status.values:
                tasks.add_metric([name, status], by_status.get(status, 0))
            queues.add_metric([name], sum(by_status.get(status, 0) for status in Task.WAITING))
        yield tasks
        yield queues

    def cache_metrics(self) -> Iterator[GaugeMetricFamily]:
        entries = GaugeMetricFamily(
            PREFIX + "cache_entries", "Cache entries by status.", labels=["status"]
        )
        grouped = CacheEntry.objects.values("status").annotate(n=Count("pk"), size=Sum("size"))
        rows = {
            status: (n, size or 0)
            for status, n, size in grouped.order_by().values_list("status", "n", "size")
        }
        for status in CacheEntry.Status.values:
            entries.add_metric([status], rows.get(status, (0, 0))[0])
        yield entries
        yield GaugeMetricFamily(
            PREFIX + "cache_bytes", "Bytes of ready cache entries.",
            value=rows.get(CacheEntry.Status.READY, (0, 0))[1],
        )
        yield GaugeMetricFamily(
            PREFIX + "cache_pinned_bytes", "Bytes of ready entries unfinished tasks need.",
            value=pinned_bytes(),
        )
        yield GaugeMetricFamily(
            PREFIX + "cache_max_bytes", "MAX_CACHE_BYTES.", value=settings.ROUTER.max_cache_bytes
        )

    def persistent_series(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        values = counter_values()
        finished = CounterMetricFamily(
            PREFIX + "tasks_finished", "Tasks that ended, by final status.", labels=["status"]
        )
        for status in Task.FINISHED:
            finished.add_metric([status], values.get(("tasks_finished", f"status={status}"), 0.0))
        yield finished
        for name, documentation in COUNTERS.items():
            value = values.get((name, ""), 0.0)
            yield CounterMetricFamily(PREFIX + name, documentation, value=value)
        for name, documentation in HISTOGRAMS.items():
            cumulative = [
                (floatToGoString(bound), values.get((name, bucket_label(bound)), 0.0))
                for bound in HISTOGRAM_BUCKETS[name]
            ]
            yield HistogramMetricFamily(
                PREFIX + name, documentation, buckets=cumulative,
                sum_value=values.get((f"{name}_sum", ""), 0.0),
            )


def registry() -> CollectorRegistry:
    built = CollectorRegistry(auto_describe=False)
    built.register(RouterCollector())
    built.register(ProcessCollector(registry=None))
    return built


_registry: CollectorRegistry | None = None


# Basic auth guards it, not a session; a CSRF check would turn other methods' 405 into a 403.
@csrf_exempt
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    global _registry
    if _registry is None:
        _registry = registry()
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
