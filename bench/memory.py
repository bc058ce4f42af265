"""Benchmark: the router's resident memory after `--nodes` nodes and `--tasks` finished tasks
(HISTORY_LIMIT at its default, so old tasks are deleted as they go). Goal: < 250 MB.

    .venv/bin/python bench/memory.py [--nodes 50] [--tasks 5000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    Setup,
    comfyui_body,
    machine,
    metric_samples,
    running,
    table,
    tiny_graph,
)

BATCH = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=5000)
    args = parser.parse_args()
    with running(COMFY_ROUTER__PENDING_LIMIT=str(BATCH)) as setup:
        idle_rss, _ = setup.rss_bytes()
        setup.add_nodes(args.nodes)
        setup.wait_idle(args.nodes)
        nodes_rss, _ = setup.rss_bytes()
        started = time.monotonic()
        with setup.router.client() as http:
            submitted = 0
            while submitted < args.tasks:
                batch = min(BATCH, args.tasks - submitted)
                for seed in range(submitted, submitted + batch):
                    response = http.post("/workflow", json=comfyui_body(tiny_graph(seed)))
                    assert response.status_code == 202, response.text
                submitted += batch
                while finished(setup) < submitted:
                    time.sleep(0.2)
        elapsed = time.monotonic() - started
        rss, peak = setup.rss_bytes()
    mib = 1024 * 1024
    print(f"memory: {args.nodes} nodes, {args.tasks} finished tasks in {elapsed:.0f} s")
    print(machine())
    print(
        table(
            ["router process", "RSS MiB"],
            [
                ["started, no nodes", idle_rss / mib],
                [f"{args.nodes} nodes idle", nodes_rss / mib],
                [f"after {args.tasks} tasks", rss / mib],
                ["peak (VmHWM)", peak / mib],
            ],
        )
    )


def finished(setup: Setup) -> int:
    """Tasks that ended, from the persistent counters behind /metrics."""
    with setup.router.client() as http:
        return int(metric_samples(http)["comfy_router_tasks_finished_total"])


if __name__ == "__main__":
    main()
