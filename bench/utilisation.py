"""Benchmark: how busy the router keeps a pool of nodes.

`--nodes` fake nodes are registered and disabled, `--tasks` tasks of `--job-ms` each are queued,
then the nodes are enabled all at once (the admin's bulk action), as an operator brings a pool
online. Makespan runs from the first prompt starting on any node to the last one ending; the
ideal is the nodes' total busy time spread evenly (tasks × duration / nodes). Goal ≥ 0.95.

    .venv/bin/python bench/utilisation.py [--tasks 400] [--nodes 20] [--job-ms 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    comfyui_body,
    machine,
    median,
    percentile,
    running,
    table,
    tiny_graph,
    wait_finished,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--job-ms", type=float, default=200)
    args = parser.parse_args()
    limit = str(args.tasks + 10)
    with running(COMFY_ROUTER__PENDING_LIMIT=limit, COMFY_ROUTER__HISTORY_LIMIT=limit) as setup:
        with setup.router.client() as http:
            fakes = setup.add_nodes(args.nodes, node_delay=args.job_ms / 2000)
            setup.wait_idle(args.nodes)
            setup.set_all_nodes_enabled(False)
            for seed in range(args.tasks):
                response = http.post("/workflow", json=comfyui_body(tiny_graph(seed)))
                assert response.status_code == 202, response.text
            nodes_enabled, cpu_before = time.monotonic(), setup.cpu_seconds()
            setup.set_all_nodes_enabled(True)
            wait_finished(http, args.tasks)
            all_finished, cpu_used = time.monotonic(), setup.cpu_seconds() - cpu_before
    prompts = [p for fake in fakes for p in fake.log.prompts]
    assert len(prompts) == args.tasks, f"{len(prompts)} prompts ran, not {args.tasks}"
    first = min(p.started for p in prompts if p.started)
    last = max(p.ended for p in prompts if p.ended)
    busy = sum(p.ended - p.started for p in prompts if p.ended and p.started)
    makespan = last - first
    ideal = busy / args.nodes
    nominal = args.tasks * args.job_ms / 1000 / args.nodes
    # Where the node time went: late first starts, waits between a node's prompts, idle at the end.
    first_starts = [min(p.started for p in fake.log.prompts) - first for fake in fakes]
    gaps = [
        later.started - earlier.ended
        for fake in fakes
        for earlier, later in pairwise(sorted(fake.log.prompts, key=lambda p: p.started))
    ]
    idle_at_end = [last - max(p.ended for p in fake.log.prompts) for fake in fakes]
    print(f"utilisation: {args.tasks} tasks of {args.job_ms:g} ms on {args.nodes} nodes")
    print(machine())
    print(
        table(
            ["", "seconds", "ideal / makespan"],
            [
                ["ideal (tasks x duration / nodes)", nominal, nominal / makespan],
                ["ideal (measured busy time / nodes)", ideal, ideal / makespan],
                ["makespan (first start to last end)", makespan, ""],
                ["nodes enabled to all tasks finished", all_finished - nodes_enabled, ""],
            ],
        )
    )
    # The router's CPU per task (the bench's polling included): on one interpreter, this is
    # what bounds how many nodes it keeps busy.
    print(
        f"router CPU: {cpu_used:.2f} s, {1000 * cpu_used / args.tasks:.1f} ms per task, "
        f"{cpu_used / (all_finished - nodes_enabled):.0%} of one core"
    )
    print(
        table(
            ["a node's idle time (ms)", "mean", "p50", "p90", "max"],
            [
                [name, *(1000 * f(values) for f in (statistics.mean, median, p90, max))]
                for name, values in (
                    ("before its first prompt", first_starts),
                    ("between two prompts", gaps),
                    ("after its last prompt", idle_at_end),
                )
            ],
        )
    )


def p90(values: list[float]) -> float:
    return percentile(values, 0.9)


if __name__ == "__main__":
    main()
