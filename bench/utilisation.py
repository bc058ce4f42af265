"""Benchmark: how busy the router keeps a pool of nodes.

`--nodes` fake nodes are registered and disabled, `--tasks` tasks of `--job-ms` each are queued,
then the nodes are enabled all at once (the admin's bulk action), as an operator brings a pool
online. Makespan runs from the first prompt starting on any node to the last one ending; the
ideal is the nodes' total busy time spread evenly (tasks × duration / nodes). Goal ≥ 0.95.

Baseline, in the same run on as many fresh nodes: the same prompts chained straight onto the
nodes by one client in a process of its own (bench/support/chain.py), each node given its share
up front and its next prompt the moment it reports the last one done. That is the most any client
in Python can get out of these nodes on this machine; the router's figure is printed against it.

    .venv/bin/python bench/utilisation.py [--tasks 400] [--nodes 20] [--job-ms 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    PROJECT_DIR,
    FakeComfyUIThread,
    Setup,
    comfyui_body,
    machine,
    median,
    percentile,
    running,
    table,
    tiny_graph,
    wait_finished,
)


@dataclass
class Spread:
    """Where the nodes' time went in one run, from their own logs."""

    makespan: float  # first prompt started on any node to the last one ended
    busy: float  # the prompts' time on the nodes, summed
    first_starts: list[float]  # each node's wait for its first prompt
    gaps: list[float]  # between two prompts on a node
    idle_at_end: list[float]  # each node's wait after its last prompt for the last one to end

    @classmethod
    def of(cls, fakes: Sequence[FakeComfyUIThread], tasks: int) -> Spread:
        prompts = [p for fake in fakes for p in fake.log.prompts]
        assert len(prompts) == tasks, f"{len(prompts)} prompts ran, not {tasks}"
        assert all(p.outcome == "success" for p in prompts), "a prompt did not succeed"
        first = min(p.started for p in prompts)
        last = max(p.ended for p in prompts)
        runs = [sorted(fake.log.prompts, key=lambda p: p.started) for fake in fakes]
        return cls(
            makespan=last - first,
            busy=sum(p.ended - p.started for p in prompts),
            first_starts=[run[0].started - first for run in runs if run],
            gaps=[b.started - a.ended for run in runs for a, b in pairwise(run)],
            idle_at_end=[last - run[-1].ended for run in runs if run],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--job-ms", type=float, default=200)
    args = parser.parse_args()
    limit = str(args.tasks + 10)
    node_delay = args.job_ms / 2000  # the graph has two nodes
    with running(COMFY_ROUTER__PENDING_LIMIT=limit, COMFY_ROUTER__HISTORY_LIMIT=limit) as setup:
        chained = chain_straight(setup, args.tasks, args.nodes, node_delay)
        with setup.router.client() as http:
            fakes = setup.add_nodes(args.nodes, node_delay=node_delay)
            setup.wait_idle(args.nodes)
            setup.set_all_nodes_enabled(False)
            for seed in range(args.tasks):
                response = http.post("/workflow", json=comfyui_body(tiny_graph(seed)))
                assert response.status_code == 202, response.text
            nodes_enabled, cpu_before = time.monotonic(), setup.cpu_seconds()
            setup.set_all_nodes_enabled(True)
            wait_finished(http, args.tasks)
            all_finished, cpu_used = time.monotonic(), setup.cpu_seconds() - cpu_before
        routed = Spread.of(fakes, args.tasks)
    nominal = args.tasks * args.job_ms / 1000 / args.nodes
    print(f"utilisation: {args.tasks} tasks of {args.job_ms:g} ms on {args.nodes} nodes")
    print(machine())
    rows = []
    for name, spread in (("router", routed), ("baseline: chained straight", chained)):
        ideal = spread.busy / args.nodes
        rows.append([name, spread.makespan, nominal / spread.makespan, ideal / spread.makespan])
    print(
        table(
            ["", "makespan (s)", "ideal / makespan", "measured busy / makespan"],
            [*rows, ["router vs baseline (its makespan / router's)", "", rows[1][1] / rows[0][1], ""]],
        )
    )
    print(f"ideal (tasks x duration / nodes): {nominal:.3f} s; nodes enabled to all tasks "
          f"finished through the router: {all_finished - nodes_enabled:.3f} s")
    # The router's CPU per task (the bench's polling included): on one interpreter, this is
    # what bounds how many nodes it keeps busy.
    print(
        f"router CPU: {cpu_used:.2f} s, {1000 * cpu_used / args.tasks:.1f} ms per task, "
        f"{cpu_used / (all_finished - nodes_enabled):.0%} of one core"
    )
    print(
        table(
            ["a node's idle time (ms)", "mean", "p50", "p90", "max", "baseline mean"],
            [
                [
                    name,
                    *(1000 * f(getattr(routed, field)) for f in (statistics.mean, median, p90, max)),
                    1000 * statistics.mean(getattr(chained, field) or [0]),
                ]
                for name, field in (
                    ("before its first prompt", "first_starts"),
                    ("between two prompts", "gaps"),
                    ("after its last prompt", "idle_at_end"),
                )
            ],
        )
    )


def chain_straight(setup: Setup, tasks: int, nodes: int, node_delay: float) -> Spread:
    """The baseline: `tasks` prompts chained straight onto `nodes` fresh fake nodes, which the
    router never hears of."""
    fakes = [FakeComfyUIThread(setup.router.root_dir, node_delay=node_delay) for _ in range(nodes)]
    try:
        subprocess.run(
            [sys.executable, "bench/support/chain.py", "--tasks", str(tasks)]
            + [fake.url for fake in fakes],
            cwd=PROJECT_DIR,
            check=True,
            timeout=600,
        )
        return Spread.of(fakes, tasks)
    finally:
        for fake in fakes:
            fake.close()


def p90(values: list[float]) -> float:
    return percentile(values, 0.9)


if __name__ == "__main__":
    main()
