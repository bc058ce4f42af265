"""Benchmark: how busy the router keeps a pool of nodes, with queue-ahead and without.

`--nodes` fake nodes are registered and disabled, `--tasks` tasks of `--job-ms` each are queued,
then the nodes are enabled all at once (the admin's bulk action), as an operator brings a pool
online. Makespan runs from the first prompt starting on any node to the last one ending; the
ideal is the nodes' total busy time spread evenly (tasks × duration / nodes). This is done twice,
on a fresh router each time: with NODE__QUEUE_AHEAD at its default (a busy node is given its
next prompt while it runs one) and at 0 (one prompt at a time, the node idle while the router
hands it the next). Goal, with queue-ahead: ≥ 0.97 of the ideal, and above the baseline.

Baseline, in the same run on as many fresh nodes: the same prompts chained straight onto the
nodes by one client in a process of its own (bench/support/chain.py), each node given its share
up front and its next prompt the moment it reports the last one done. That is the most any client
in Python can get out of these nodes one prompt at a time on this machine; the router's figures
are printed against it.

The fake nodes run in this process, with its garbage collector off while they do
(`support.fakes_without_pauses`): a full collection stopped all of them at once.

A node's idle time between two prompts, from the nodes' own logs, and how often its next prompt
was already in its queue when it ended one, show where the difference goes; the router's own
view of that idle time (/metrics: comfy_router_node_idle_seconds), its steals and its prompts
queued ahead are printed beside.

    .venv/bin/python bench/utilisation.py [--tasks 400] [--nodes 20] [--job-ms 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    PROJECT_DIR,
    FakeComfyUIThread,
    Spread,
    comfyui_body,
    fakes_without_pauses,
    machine,
    median,
    metric_samples,
    percentile,
    running,
    table,
    tiny_graph,
    wait_finished,
)

from comfy_router.config import load_config  # noqa: E402


@dataclass
class Routed:
    """One run through the router."""

    name: str
    spread: Spread
    elapsed: float  # from the nodes' enabling to the last task seen finished
    cpu: float  # the router process's, over `elapsed`
    metrics: dict[str, float]  # /metrics at the end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--job-ms", type=float, default=200)
    args = parser.parse_args()
    node_delay = args.job_ms / 2000  # the graph has two nodes
    default = load_config({}).queue_ahead
    with fakes_without_pauses():
        chained = chain_straight(args.tasks, args.nodes, node_delay)
        routed = [
            through_router(f"router, queue-ahead {default} (default)", default, args, node_delay),
            through_router("router, queue-ahead 0", 0, args, node_delay),
        ]
    baseline = "baseline: chained straight"
    nominal = args.tasks * args.job_ms / 1000 / args.nodes
    print(f"utilisation: {args.tasks} tasks of {args.job_ms:g} ms on {args.nodes} nodes")
    print(machine())
    print(
        table(
            ["", "makespan (s)", "ideal / makespan", "measured busy / makespan"],
            [
                *(shares(r.name, r.spread, nominal, args.nodes) for r in routed),
                shares(baseline, chained, nominal, args.nodes),
                *(
                    [
                        f"{r.name} vs baseline (its makespan / router's)",
                        "",
                        chained.makespan / r.spread.makespan,
                        "",
                    ]
                    for r in routed
                ),
            ],
        )
    )
    print(f"ideal (tasks x duration / nodes): {nominal:.3f} s")
    # The router's CPU per task (the bench's polling included): on one interpreter, this is
    # what bounds how many nodes it keeps busy.
    print(
        table(
            [
                "",
                "enabled to all finished (s)",
                "router CPU (s)",
                "ms per task",
                "of one core",
                "queued ahead",
                "steals",
                "taken back (nodes' logs)",
            ],
            [
                [
                    r.name,
                    r.elapsed,
                    r.cpu,
                    1000 * r.cpu / args.tasks,
                    f"{r.cpu / r.elapsed:.0%}",
                    int(r.metrics["comfy_router_prompts_queued_ahead_total"]),
                    int(r.metrics["comfy_router_steals_total"]),
                    r.spread.taken_back,
                ]
                for r in routed
            ],
        )
    )
    print(
        table(
            [
                "a node's idle time (ms)",
                "between two prompts: mean",
                "p50",
                "p90",
                "max",
                "router's mean (/metrics)",
                "next prompt there before the last ended",
                "before its first: mean",
                "after its last: mean",
            ],
            [
                *(
                    [
                        r.name,
                        *gaps_ms(r.spread),
                        router_idle_ms(r.metrics),
                        there_first(r.spread),
                        *ends_ms(r.spread),
                    ]
                    for r in routed
                ),
                [baseline, *gaps_ms(chained), "", there_first(chained), *ends_ms(chained)],
            ],
        )
    )


def through_router(
    name: str, queue_ahead: int, args: argparse.Namespace, node_delay: float
) -> Routed:
    """The tasks through a fresh router with NODE__QUEUE_AHEAD at `queue_ahead`, on fresh nodes."""
    limit = str(args.tasks + 10)
    with running(
        COMFY_ROUTER__PENDING_LIMIT=limit,
        COMFY_ROUTER__HISTORY_LIMIT=limit,
        COMFY_ROUTER__NODE__QUEUE_AHEAD=str(queue_ahead),
    ) as setup:
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
            elapsed = time.monotonic() - nodes_enabled
            cpu = setup.cpu_seconds() - cpu_before
            metrics = metric_samples(http)
        return Routed(name, Spread.of(fakes, args.tasks), elapsed, cpu, metrics)


def shares(name: str, spread: Spread, nominal: float, nodes: int) -> list[object]:
    return [name, spread.makespan, nominal / spread.makespan, spread.busy / nodes / spread.makespan]


def gaps_ms(spread: Spread) -> list[float]:
    return [1000 * f(spread.gaps) for f in (statistics.mean, median, p90, max)]


def there_first(spread: Spread) -> str:
    """How often a node had its next prompt before it ended the one it ran."""
    ahead = sum(lead > 0 for lead in spread.posted_ahead)
    return f"{ahead / len(spread.posted_ahead):.0%}"


def ends_ms(spread: Spread) -> list[float]:
    return [1000 * statistics.mean(spread.first_starts), 1000 * statistics.mean(spread.idle_at_end)]


def router_idle_ms(metrics: dict[str, float]) -> float:
    count = metrics["comfy_router_node_idle_seconds_count"]
    return 1000 * metrics["comfy_router_node_idle_seconds_sum"] / count if count else float("nan")


def chain_straight(tasks: int, nodes: int, node_delay: float) -> Spread:
    """The baseline: `tasks` prompts chained straight onto `nodes` fresh fake nodes, with no
    router running."""
    with tempfile.TemporaryDirectory(prefix="comfy-router-bench-") as root_dir:
        fakes = [FakeComfyUIThread(root_dir, node_delay=node_delay) for _ in range(nodes)]
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
