"""Benchmark: makespan and wait for jobs of mixed durations, with queue-ahead and stealing and
without.

`--tasks` jobs of seeded random durations from `--min-s` to `--max-s` (uniform, in steps of
`--step-ms`: a graph of two nodes a step, each lasting half a step on the fake node) are
submitted at once, one POST after another, to `--nodes` idle nodes. This is done twice, on a
fresh router and fresh nodes each time, with the same jobs in the same order: with
NODE__QUEUE_AHEAD=1 (a busy node is given its next task while it runs one; a task queued ahead
that has not started is taken back for a node that goes idle) and with NODE__QUEUE_AHEAD=0 (one
prompt at a time). Makespan runs from the first submission to the last prompt's end; a task's
wait, from its submission (the bench's clock, as it sends the POST) to its prompt's start on the
node (the node's log, same clock). Goal: with queue-ahead and stealing, makespan and p95 wait no
worse than with NODE__QUEUE_AHEAD=0 in the same run.

For reference: the same jobs given, in submission order, each to the first node free, with no
time lost between them (simulated: a perfect one-at-a-time dispatcher), and the bound no
schedule beats (the longest job or the work spread evenly, whichever is more).

    .venv/bin/python bench/mixed_durations.py [--tasks 60] [--nodes 4] [--min-s 0.1] [--max-s 3]
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    Spread,
    comfyui_body,
    image_tree,
    image_tree_seed,
    machine,
    median,
    metric_samples,
    percentile,
    running,
    table,
    wait_finished,
)


@dataclass
class Result:
    makespan: float
    waits: list[float]
    steals: int  # as /metrics counts them
    taken_back: int  # prompts deleted from a node's queue (the nodes' logs)
    gaps: list[float]  # a node's idle time between two prompts (the nodes' logs)
    busy: float  # the jobs' time on the nodes, summed (the nodes' logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--min-s", type=float, default=0.1)
    parser.add_argument("--max-s", type=float, default=3.0)
    parser.add_argument("--step-ms", type=float, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    step = args.step_ms / 1000
    rng = random.Random(args.seed)
    steps = [max(1, round(rng.uniform(args.min_s, args.max_s) / step)) for _ in range(args.tasks)]
    durations = [count * step for count in steps]
    ahead = through_router(1, steps, args.nodes, step)
    one_at_a_time = through_router(0, steps, args.nodes, step)
    greedy_makespan, greedy_waits = greedy(durations, args.nodes)
    bound = max(max(durations), sum(durations) / args.nodes)

    print(
        f"mixed durations: {args.tasks} jobs of {args.min_s:g}-{args.max_s:g} s on {args.nodes} "
        f"nodes (seed {args.seed}: {sum(durations):.1f} s of work, mean "
        f"{statistics.mean(durations):.2f} s, longest {max(durations):.2f} s)"
    )
    print(machine())
    print(
        table(
            [
                "",
                "makespan (s)",
                "p95 wait (s)",
                "p50 wait (s)",
                "steals (/metrics)",
                "taken back (nodes' logs)",
                "node idle between prompts: mean ms",
                "work on the nodes (s)",
            ],
            [
                ["queue-ahead 1, stealing", *figures(ahead)],
                ["queue-ahead 0", *figures(one_at_a_time)],
                [
                    "ratio (queue-ahead 1 / 0)",
                    ahead.makespan / one_at_a_time.makespan,
                    p95(ahead.waits) / p95(one_at_a_time.waits),
                    median(ahead.waits) / median(one_at_a_time.waits),
                    "",
                    "",
                    "",
                    "",
                ],
                [
                    "simulated: first node free, none lost",
                    greedy_makespan,
                    p95(greedy_waits),
                    median(greedy_waits),
                    "",
                    "",
                    "",
                    sum(durations),
                ],
                ["bound: max(longest, work / nodes)", bound, "", "", "", "", "", sum(durations)],
            ],
        )
    )
    print("wait: from the POST's sending to the prompt's start on its node (the node's log)")


def through_router(queue_ahead: int, steps: list[int], nodes: int, step: float) -> Result:
    """The jobs through a fresh router with NODE__QUEUE_AHEAD at `queue_ahead`, on fresh nodes."""
    limit = str(len(steps) + 10)
    with running(
        COMFY_ROUTER__PENDING_LIMIT=limit,
        COMFY_ROUTER__HISTORY_LIMIT=limit,
        COMFY_ROUTER__NODE__QUEUE_AHEAD=str(queue_ahead),
    ) as setup:
        fakes = setup.add_nodes(nodes, node_delay=step / 2)  # image_tree: 2 nodes a leaf
        setup.wait_idle(nodes)
        with setup.router.client() as http:
            submitted = []
            for seed, leaves in enumerate(steps):
                submitted.append(time.monotonic())
                response = http.post("/workflow", json=comfyui_body(image_tree(seed, leaves)))
                assert response.status_code == 202, response.text
            wait_finished(http, len(steps))
            metrics = metric_samples(http)
    spread = Spread.of(fakes, len(steps))
    return Result(
        makespan=spread.last_end - submitted[0],
        waits=[p.started - submitted[image_tree_seed(p.graph)] for p in spread.ran],
        steals=int(metrics["comfy_router_steals_total"]),
        taken_back=spread.taken_back,
        gaps=spread.gaps,
        busy=spread.busy,
    )


def greedy(durations: list[float], nodes: int) -> tuple[float, list[float]]:
    """Each job, in order, to the node free first, all submitted at 0 and nothing lost between
    jobs: (makespan, waits)."""
    free_at = [0.0] * nodes
    waits = []
    for duration in durations:
        start = heapq.heappop(free_at)
        waits.append(start)
        heapq.heappush(free_at, start + duration)
    return max(free_at), waits


def figures(result: Result) -> list[object]:
    return [
        result.makespan,
        p95(result.waits),
        median(result.waits),
        result.steals,
        result.taken_back,
        1000 * statistics.mean(result.gaps),
        result.busy,
    ]


def p95(values: list[float]) -> float:
    return percentile(values, 0.95)


if __name__ == "__main__":
    main()
