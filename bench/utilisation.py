"""Benchmark: how busy the router keeps a pool of nodes.

`--tasks` tasks of `--job-ms` each are queued first; then `--nodes` fake nodes are registered
at once. Makespan runs from the first prompt starting on any node to the last one ending; the
ideal is the nodes' total busy time spread evenly (tasks × duration / nodes). Goal ≥ 0.95.

    .venv/bin/python bench/utilisation.py [--tasks 400] [--nodes 20] [--job-ms 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import comfyui_body, machine, running, table, tiny_graph, wait_finished  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--job-ms", type=float, default=200)
    args = parser.parse_args()
    limit = str(args.tasks + 10)
    with running(COMFY_ROUTER__PENDING_LIMIT=limit, COMFY_ROUTER__HISTORY_LIMIT=limit) as setup:
        with setup.router.client() as http:
            for seed in range(args.tasks):
                response = http.post("/workflow", json=comfyui_body(tiny_graph(seed)))
                assert response.status_code == 202, response.text
            nodes_added = time.monotonic()
            fakes = setup.add_nodes(args.nodes, node_delay=args.job_ms / 2000)
            wait_finished(http, args.tasks)
            all_finished = time.monotonic()
    prompts = [p for fake in fakes for p in fake.log.prompts]
    assert len(prompts) == args.tasks, f"{len(prompts)} prompts ran, not {args.tasks}"
    first = min(p.started for p in prompts if p.started)
    last = max(p.ended for p in prompts if p.ended)
    busy = sum(p.ended - p.started for p in prompts if p.ended and p.started)
    makespan = last - first
    ideal = busy / args.nodes
    nominal = args.tasks * args.job_ms / 1000 / args.nodes
    print(f"utilisation: {args.tasks} tasks of {args.job_ms:g} ms on {args.nodes} nodes")
    print(machine())
    print(
        table(
            ["", "seconds", "ideal / makespan"],
            [
                ["ideal (tasks x duration / nodes)", nominal, nominal / makespan],
                ["ideal (measured busy time / nodes)", ideal, ideal / makespan],
                ["makespan (first start to last end)", makespan, ""],
                ["nodes added to all tasks finished", all_finished - nodes_added, ""],
            ],
        )
    )


if __name__ == "__main__":
    main()
