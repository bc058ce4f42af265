"""Load figure: 500 `GET /workflow/{id}` + 200 `POST /workflow` from 50 concurrent clients
against a router (`manage.py serve`, SQLite) with 5 fake ComfyUI nodes running the tasks.

Starts everything it needs on loopback in a temporary directory and stops it again:

    .venv/bin/python bench/load.py [--gets 500 --posts 200 --clients 50 --nodes 5]

Exits 0 when no request got a 5xx or a transport error, every accepted task ended done and the
router never logged "database is locked"; 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cluster import Cluster  # noqa: E402
from tests.support.live_router import LiveRouter  # noqa: E402
from tests.support.load import run_load, tasks_per_node, wait_for_tasks  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gets", type=int, default=500)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--pending-limit", type=int, default=1000)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="comfy-router-bench-"))
    router = LiveRouter(
        base_dir=base,
        env_overrides={
            "COMFY_ROUTER__PENDING_LIMIT": str(args.pending_limit),
            # Keep every finished task, so each one's end can be checked.
            "COMFY_ROUTER__HISTORY_LIMIT": str(args.posts + 1),
        },
    )
    cluster = Cluster(router)
    try:
        router.start()
        for _ in range(args.nodes):
            cluster.add_node()
        print(
            f"router {router.url} (SQLite), {args.nodes} fake nodes; "
            f"{args.gets} GET + {args.posts} POST from {args.clients} clients"
        )
        began = time.monotonic()
        result = run_load(router.url, gets=args.gets, posts=args.posts, clients=args.clients)
        wait_for_tasks(router.url, result, timeout=300)
        print(result.summary())
        print(f"tasks per node: {tasks_per_node(cluster.nodes)}")
        print(f"all tasks ended {time.monotonic() - began:.2f} s after the first request")
        locked = router.log().count("database is locked")
        print(f'"database is locked" in the router log: {locked}')
        ok = (
            result.server_errors == 0
            and not result.transport_errors
            and len(result.final) == len(result.accepted)
            and set(result.final.values()) <= {"done"}
            and locked == 0
        )
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        router.stop()
        cluster.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
