"""Benchmark: what capability routing costs a submission. A pool of `--nodes` nodes, each with
ComfyUI 0.8.0's node classes and `--files` model files, in a SQLite database of its own; the
check that some node could run a submission (`refuse_what_no_node_can_run`), timed over
`--runs` SD15 submissions, against the validation and build of the same body (baseline, same
run). Goal: under 0.5 ms at p50 for 50 nodes.

    .venv/bin/python bench/capabilities.py [--nodes 50] [--files 200] [--runs 2000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from support import django_in_this_process, machine, percentile, table  # noqa: E402

OBJECT_INFO = ROOT / "tests" / "fake_comfyui" / "object_info.json.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    django_in_this_process("bench-capabilities-")
    from django.core.management import call_command
    from django.utils import timezone

    from nodes.models import Node
    from workflows.api.capacity import refuse_what_no_node_can_run
    from workflows.api.params import validate_submission

    call_command("migrate", verbosity=0)
    with gzip.open(OBJECT_INFO, "rt") as f:
        classes = sorted(json.load(f))
    files = {
        "checkpoints": [f"model-{i}.safetensors" for i in range(args.files // 2)] + ["sd15.safetensors"],
        "loras": [f"lora-{i}.safetensors" for i in range(args.files // 2)],
    }
    Node.objects.bulk_create(
        Node(
            url=f"http://10.0.{n // 250}.{n % 250}:8188",
            node_classes=classes,
            model_files=files,
            capabilities_at=timezone.now(),
            labels=["gpu"] if n % 2 else [],
        )
        for n in range(args.nodes)
    )
    body = {
        "type": "SD15",
        "params": {
            "checkpoint": {"type": "build_in", "name": "sd15.safetensors"},
            "loras": [{"model": {"type": "build_in", "name": "lora-1.safetensors"}, "weight": 0.8}],
            "prompt": "a cat",
        },
        "node_labels": ["gpu"],
    }
    refuse_what_no_node_can_run(validate_submission(body))  # the pool's profile read once
    checks, builds = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        submission = validate_submission(body)
        built = time.perf_counter()
        refuse_what_no_node_can_run(submission)
        done = time.perf_counter()
        builds.append(built - started)
        checks.append(done - built)
    rows = [
        [name, percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000]
        for name, values in (("validate + build (baseline)", builds), ("capability check", checks))
    ]
    print(f"{args.nodes} nodes x {len(classes)} classes, {args.files} model files each; {machine()}")
    print(table(["per submission", "p50 ms", "p95 ms"], rows))
    ratio = percentile(checks, 0.5) / percentile(builds, 0.5)
    print(f"check / baseline at p50: x{ratio:.2f}; goal: check p50 < 0.5 ms")


if __name__ == "__main__":
    main()
