"""Benchmark: model loads and total time with model-affinity scheduling vs first-idle.

`--nodes` fake nodes charge `--load-s` whenever their checkpoint changes; `--tasks` tasks over
`--checkpoints` checkpoints in a shuffled (seeded) order are queued, then run to the end, once on
a router with affinity scheduling and once on one that gives each task the node idle longest
(bench/support/serve.py --first-idle). Goal: at least 2x fewer loads.

    .venv/bin/python bench/affinity.py [--tasks 96] [--nodes 8] [--checkpoints 4] [--load-s 1.5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    checkpoint_graph,
    comfyui_body,
    machine,
    running,
    table,
    wait_finished,
)

from tests.fake_comfyui import FakeComfyUIThread  # noqa: E402


def loads(fake: FakeComfyUIThread) -> int:
    loaded, switches = None, 0
    for prompt in sorted(fake.log.prompts, key=lambda p: p.started or 0):
        checkpoint = prompt.graph["4"]["inputs"]["ckpt_name"]
        switches += checkpoint != loaded
        loaded = checkpoint
    return switches


def run(flags: tuple[str, ...], workload: list[str], args: argparse.Namespace) -> tuple[int, float]:
    limit = str(len(workload) + 10)
    env = {"COMFY_ROUTER__PENDING_LIMIT": limit, "COMFY_ROUTER__HISTORY_LIMIT": limit}
    with running(*flags, **env) as setup:
        folder = setup.router.root_dir / "models" / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        for checkpoint in set(workload):
            (folder / checkpoint).write_bytes(b"weights")
        with setup.router.client() as http:
            for seed, checkpoint in enumerate(workload):
                body = comfyui_body(checkpoint_graph(checkpoint, seed))
                response = http.post("/workflow", json=body)
                assert response.status_code == 202, response.text
            started = time.monotonic()
            job = args.job_ms / 3000  # three nodes in the graph
            fakes = setup.add_nodes(args.nodes, load_time=args.load_s, node_delay=job)
            wait_finished(http, len(workload))
            elapsed = time.monotonic() - started
        return sum(loads(fake) for fake in fakes), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=96)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--checkpoints", type=int, default=4)
    parser.add_argument("--load-s", type=float, default=1.5)
    parser.add_argument("--job-ms", type=float, default=300)
    args = parser.parse_args()
    names = [f"model_{i}.safetensors" for i in range(args.checkpoints)]
    workload = [names[i % len(names)] for i in range(args.tasks)]
    random.Random(8).shuffle(workload)
    affinity = run((), workload, args)
    first_idle = run(("--first-idle",), workload, args)
    print(
        f"affinity: {args.tasks} tasks over {args.checkpoints} checkpoints on {args.nodes} nodes, "
        f"{args.load_s:g} s per load, {args.job_ms:g} ms per job"
    )
    print(machine())
    print(
        table(
            ["scheduling", "model loads", "total s"],
            [
                ["model affinity", *affinity],
                ["first idle", *first_idle],
                [
                    "ratio (first idle / affinity)",
                    first_idle[0] / max(affinity[0], 1),
                    first_idle[1] / affinity[1],
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
