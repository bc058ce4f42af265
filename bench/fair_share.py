"""Benchmark: the fair share of the pool, when one client's batch fills it and another client
comes.

Client A posts `--a-tasks` jobs of `--duration` seconds, one POST after another, to `--nodes`
idle nodes; then client B posts `--b-tasks`. Each configuration runs on a fresh router and
fresh nodes, in one run of this script:
- fair share: A and B are two clients, each with its own key;
- one client: the same jobs, all posted with A's key, so the dispatcher sees one client and
  serves them first in first out (what every client got before the fair share);
- fair share with NODE__QUEUE_AHEAD=0 (`--no-queue-ahead-run` skips it): with queue-ahead a
  node that comes free starts the prompt already queued on it, so B's first job can start only
  when that one ends; without, B's first job takes the node itself.

Figures, on the bench's clock (the fake nodes log on it): B's first start after the first node
to come free once B posted (a prompt's end), in job durations; B's first start and B's last end
after B's first POST; A's last end after B's first POST; the whole makespan; the router's CPU
per job (the POSTs and the polling for the end included); prompts taken back from a node's
queue (steals); how far apart the nodes' first ends after B posted fell (0: every node ended its
prompt at once, so none could give B a place before the first came free). Goal (issue 20):
B's first job starts within one job duration of a node coming free, and B's jobs end long
before A's batch.

    .venv/bin/python bench/fair_share.py [--a-tasks 200] [--b-tasks 5] [--nodes 4] [--duration 0.4]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    Spread,
    comfyui_body,
    image_tree_seed,
    machine,
    running,
    table,
    tiny_graph,
    wait_finished,
)

from tests.support.clients import client_with_key, key_client  # noqa: E402

B_SEEDS_FROM = 100_000  # B's jobs' seeds (their images' colour) tell them from A's


@dataclass
class Result:
    b_after_free: float  # B's first start after the first node came free once B posted (s)
    b_first_start: float  # after B's first POST (s)
    b_last_end: float  # after B's first POST (s)
    a_last_end: float  # after B's first POST (s)
    a_before_b: int  # A's jobs that started after B posted and before B's last start
    makespan: float  # from A's first POST to the last end
    taken_back: int  # prompts deleted from a node's queue before they started (steals)
    in_step: float  # the spread of the nodes' first ends once B posted (s): 0, all at once
    cpu_per_task: float  # the router's CPU from the first POST to the last end, per job (s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a-tasks", type=int, default=200)
    parser.add_argument("--b-tasks", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--duration", type=float, default=0.4, help="seconds a job lasts")
    parser.add_argument("--no-queue-ahead-run", action="store_true")
    args = parser.parse_args()
    runs = [
        ("fair share", True, 1),
        ("one client (first in, first out)", False, 1),
    ]
    if not args.no_queue_ahead_run:
        runs.append(("fair share, NODE__QUEUE_AHEAD=0", True, 0))
    results = [
        (name, through_router(args, two_clients=two, queue_ahead=ahead))
        for name, two, ahead in runs
    ]

    d = args.duration
    print(
        f"fair share: A posts {args.a_tasks} jobs of {d:g} s, then B posts {args.b_tasks}, on "
        f"{args.nodes} nodes (A's batch alone: {args.a_tasks * d / args.nodes:.1f} s of the pool)"
    )
    print(machine())
    print(
        table(
            [
                "",
                "B first start after a node came free (jobs)",
                "B first start (s)",
                "B last end (s)",
                "A last end (s)",
                "A's jobs started between B's post and B's last start",
                "makespan (s)",
                "prompts taken back",
                "nodes' next ends after B posted, spread (jobs)",
                "router CPU per job (ms)",
            ],
            [
                [
                    name,
                    r.b_after_free / d,
                    r.b_first_start,
                    r.b_last_end,
                    r.a_last_end,
                    r.a_before_b,
                    r.makespan,
                    r.taken_back,
                    r.in_step / d,
                    1000 * r.cpu_per_task,
                ]
                for name, r in results
            ],
        )
    )
    print("times after B's first POST, on the nodes' logs; a job is one --duration")


def through_router(args: argparse.Namespace, *, two_clients: bool, queue_ahead: int) -> Result:
    limit = str(args.a_tasks + args.b_tasks + 10)
    with running(
        COMFY_ROUTER__PENDING_LIMIT=limit,
        COMFY_ROUTER__HISTORY_LIMIT=limit,
        COMFY_ROUTER__NODE__QUEUE_AHEAD=str(queue_ahead),
    ) as setup:
        key_a = client_with_key(setup.router, "a", "--pending-limit", limit)
        key_b = key_a
        if two_clients:
            key_b = client_with_key(setup.router, "b", "--pending-limit", limit)
        fakes = setup.add_nodes(args.nodes, node_delay=args.duration / 2)  # tiny_graph: 2 nodes
        setup.wait_idle(args.nodes)
        with key_client(setup.router, key_a) as a, key_client(setup.router, key_b) as b:
            cpu_before = setup.cpu_seconds()
            a_posted = time.monotonic()
            for seed in range(args.a_tasks):
                response = a.post("/workflow", json=comfyui_body(tiny_graph(seed)))
                assert response.status_code == 202, response.text
            b_posted = time.monotonic()
            for seed in range(B_SEEDS_FROM, B_SEEDS_FROM + args.b_tasks):
                response = b.post("/workflow", json=comfyui_body(tiny_graph(seed)))
                assert response.status_code == 202, response.text
        with setup.router.client() as operator:
            wait_finished(operator, args.a_tasks + args.b_tasks)
        cpu = setup.cpu_seconds() - cpu_before
    spread = Spread.of(fakes, args.a_tasks + args.b_tasks)
    ran_b = [p for p in spread.ran if image_tree_seed(p.graph) >= B_SEEDS_FROM]
    ran_a = [p for p in spread.ran if image_tree_seed(p.graph) < B_SEEDS_FROM]
    b_first = min(p.started for p in ran_b)
    b_last_start = max(p.started for p in ran_b)
    came_free = min(p.ended for p in spread.ran if p.ended >= b_posted)
    next_ends = [
        min(p.ended for p in fake.log.prompts if p.outcome == "success" and p.ended >= b_posted)
        for fake in fakes
    ]
    return Result(
        b_after_free=b_first - came_free,
        b_first_start=b_first - b_posted,
        b_last_end=max(p.ended for p in ran_b) - b_posted,
        a_last_end=max(p.ended for p in ran_a) - b_posted,
        a_before_b=sum(b_posted < p.started < b_last_start for p in ran_a),
        makespan=spread.last_end - a_posted,
        taken_back=spread.taken_back,
        in_step=max(next_ends) - min(next_ends),
        cpu_per_task=cpu / (args.a_tasks + args.b_tasks),
    )


if __name__ == "__main__":
    main()
