"""GET /metrics: Prometheus text behind Basic auth, with numbers that match the database, and
counters that survive the rows they counted."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from downloads import claims
from downloads.eviction import evict
from downloads.models import CacheEntry, CacheUse
from nodes.models import Node
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from workflows.models import Task
from workflows.tasks import metrics as task_metrics
from workflows.tasks.endings import task_end

pytestmark = pytest.mark.django_db(transaction=True)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def authorized() -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"admin:admin").decode())


def task(status: str, main_model: str = "", **fields: Any) -> Task:
    return Task.objects.create(
        type=Task.Type.COMFYUI,
        params={},
        graph={},
        status=status,
        main_model=main_model,
        lease_owner="a-run",
        **fields,
    )


def test_it_needs_basic_auth() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_it_reports_tasks_queue_and_nodes_by_status(authorized: Client) -> None:
    for status in ("pending", "pending", "pending", "downloading", "running", "done", "error"):
        task(status)
    Node.objects.create(url="http://a:1", status=Node.Status.IDLE)
    Node.objects.create(url="http://b:1", status=Node.Status.IDLE)
    Node.objects.create(url="http://c:1", status=Node.Status.BUSY)
    Node.objects.create(url="http://d:1", status=Node.Status.OFFLINE, enabled=False)
    samples = scrape(authorized)
    assert samples[("comfy_router_tasks", (("status", "pending"),))] == 3
    assert samples[("comfy_router_tasks", (("status", "downloading"),))] == 1
    assert samples[("comfy_router_tasks", (("status", "running"),))] == 1
    assert samples[("comfy_router_tasks", (("status", "cancelled"),))] == 0
    assert samples[("comfy_router_queue_length", ())] == 4
    idle = ("comfy_router_nodes", (("enabled", "true"), ("status", "idle")))
    assert samples[idle] == 2
    assert samples[("comfy_router_nodes", (("enabled", "true"), ("status", "busy")))] == 1
    assert samples[("comfy_router_nodes", (("enabled", "false"), ("status", "offline")))] == 1


def test_it_reports_wait_and_run_histograms_and_model_loads_avoided(authorized: Client) -> None:
    warm = task("running", "a.safetensors")
    cold = task("running", "b.safetensors")
    Task.objects.filter(pk=warm.pk).update(created_at=timezone.now() - timedelta(seconds=20))
    warm.refresh_from_db()
    task_metrics.task_started(warm, warm=True)
    task_metrics.task_started(cold, warm=False)
    Task.objects.filter(pk=warm.pk).update(started_at=timezone.now() - timedelta(seconds=3))
    task_end(task_id=warm.pk, status=Task.Status.DONE, owner="a-run")
    samples = scrape(authorized)
    assert samples[("comfy_router_model_loads_avoided_total", ())] == 1
    assert samples[("comfy_router_model_loads_total", ())] == 1
    assert samples[("comfy_router_task_wait_seconds_count", ())] == 2
    assert samples[("comfy_router_task_wait_seconds_bucket", (("le", "10.0"),))] == 1
    assert samples[("comfy_router_task_wait_seconds_bucket", (("le", "30.0"),))] == 2
    assert samples[("comfy_router_task_run_seconds_count", ())] == 1
    assert samples[("comfy_router_task_run_seconds_bucket", (("le", "2.5"),))] == 0
    assert samples[("comfy_router_task_run_seconds_bucket", (("le", "5.0"),))] == 1
    assert 3 <= samples[("comfy_router_task_run_seconds_sum", ())] < 5
    assert samples[("comfy_router_tasks_finished_total", (("status", "done"),))] == 1


def test_finished_task_counts_survive_the_rows_they_counted(authorized: Client) -> None:
    for _ in range(3):
        finished = task("running")
        task_end(task_id=finished.pk, status=Task.Status.ERROR, owner="a-run")
    Task.objects.all().delete()  # as the history limit does
    samples = scrape(authorized)
    assert samples[("comfy_router_tasks", (("status", "error"),))] == 0
    assert samples[("comfy_router_tasks_finished_total", (("status", "error"),))] == 3


def test_it_reports_downloads_cache_and_evictions(
    authorized: Client, cache_dirs: CacheDirs  # noqa: F811
) -> None:
    downloaded = CacheEntry.objects.create(
        file_name="a.safetensors", key="http://x/a", owner="me", status=CacheEntry.Status.DOWNLOADING
    )
    temp = cache_dirs.cache_dir / "a.part"
    temp.write_bytes(b"x" * 300)
    assert claims.mark_ready(
        entry_id=downloaded.pk, owner="me", temp_file=temp,
        cache_file=cache_dirs.cache_dir / "a.safetensors", size=300,
    )
    failing = CacheEntry.objects.create(
        file_name="b.safetensors", key="http://x/b", owner="me", status=CacheEntry.Status.DOWNLOADING
    )
    claims.mark_failed(entry_id=failing.pk, owner="me", error="404")
    pinned = CacheEntry.objects.create(
        file_name="c.safetensors", key="http://x/c", status=CacheEntry.Status.READY, size=50
    )
    CacheUse.objects.create(entry=pinned, task_id=uuid.uuid4(), url="http://x/c", folder="models/loras")
    assert [e.size for e in evict(max_bytes=100)] == [300]
    samples = scrape(authorized)
    assert samples[("comfy_router_downloads_total", ())] == 1
    assert samples[("comfy_router_download_bytes_total", ())] == 300
    assert samples[("comfy_router_download_failures_total", ())] == 1
    assert samples[("comfy_router_cache_evictions_total", ())] == 1
    assert samples[("comfy_router_cache_evicted_bytes_total", ())] == 300
    assert samples[("comfy_router_cache_entries", (("status", "ready"),))] == 1
    assert samples[("comfy_router_cache_entries", (("status", "failed"),))] == 1
    assert samples[("comfy_router_cache_bytes", ())] == 50
    assert samples[("comfy_router_cache_pinned_bytes", ())] == 50


def test_a_scrape_costs_the_same_queries_with_few_or_many_tasks(authorized: Client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape(authorized)
        return len(captured)

    few = queries()
    Task.objects.bulk_create(
        Task(type=Task.Type.COMFYUI, params={}, graph={}, status=Task.Status.DONE)
        for _ in range(2000)
    )
    assert queries() == few
