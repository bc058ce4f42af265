"""The metrics a process gathers are added to the shared counts in one statement (`INSERT ... ON
CONFLICT DO UPDATE`): a series seen for the first time gets its row, one seen before adds to it,
and two processes' counts add up. Run as a router process runs it, against a SQLite file and a
PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.backing_services import PostgresServer, postgres_server  # noqa: F401
from tests.support.live_router import PROJECT_DIR, LiveRouter

# Two flushes in one process, as a router makes one a second: new series, then old and new.
SCRIPT = """
import json, django
django.setup()
from comfy_router import counters
counters.counter_add("tasks_finished", labels="status=done")
counters.series_add(counters.histogram_series("task_run_seconds", 0.3))
counters.flush()
counters.counter_add("tasks_finished", 2, labels="status=done")
counters.counter_add("tasks_finished", labels="status=failed")
counters.flush()
print(json.dumps([[*key, value] for key, value in counters.counter_values().items()]))
"""


def counts_after_two_processes(router: LiveRouter) -> dict[tuple[str, str], float]:
    env = router.environment()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=PROJECT_DIR, env=env, check=True, timeout=180,
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=PROJECT_DIR, env=env, check=True, timeout=120, capture_output=True, text=True,
        )
    return {(name, labels): value for name, labels, value in json.loads(done.stdout)}


def assert_added_up(counts: dict[tuple[str, str], float]) -> None:
    assert counts[("tasks_finished", "status=done")] == 6  # (1 + 2) in each of two processes
    assert counts[("tasks_finished", "status=failed")] == 2
    assert counts[("task_run_seconds", "le=0.5")] == 2
    assert counts[("task_run_seconds", "le=+Inf")] == 2
    assert ("task_run_seconds", "le=0.25") not in counts
    assert counts[("task_run_seconds_sum", "")] == pytest.approx(0.6)


def test_counts_add_up_across_flushes_and_processes_on_sqlite(tmp_path: Path) -> None:
    assert_added_up(counts_after_two_processes(LiveRouter(base_dir=tmp_path)))


def test_counts_add_up_across_flushes_and_processes_on_postgresql(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    database = postgres_server.create_database("metric_counts")
    router = LiveRouter(base_dir=tmp_path, env_overrides={"COMFY_ROUTER__DATABASE_URL": database})
    assert_added_up(counts_after_two_processes(router))
