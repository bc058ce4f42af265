"""Concurrent clients reading and submitting while three nodes run tasks: every request gets a
non-5xx answer, SQLite never reports a lock, and every accepted task ends done."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cluster import Cluster
from tests.support.load import run_load, tasks_per_node, wait_for_tasks


def test_ten_clients_get_no_5xx_and_every_accepted_task_ends_done(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(
        nodes=3, COMFY_ROUTER__PENDING_LIMIT="100", COMFY_ROUTER__HISTORY_LIMIT="100"
    )
    result = run_load(cluster.router.url, gets=100, posts=40, clients=10)
    wait_for_tasks(cluster.router.url, result)
    summary = result.summary()
    assert result.transport_errors == [], summary
    assert result.server_errors == 0, summary
    assert sum(result.statuses.values()) == 140, summary
    assert len(result.accepted) == 40, summary
    assert set(result.final.values()) == {"done"}, summary
    assert sum(tasks_per_node(cluster.nodes)) == 40
    assert "database is locked" not in cluster.router.log()
