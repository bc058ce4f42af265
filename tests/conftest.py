"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.live_router import LiveRouter


@pytest.fixture
def router_factory(tmp_path: Path) -> Iterator[Callable[..., LiveRouter]]:
    """Starts real `serve` processes: `router_factory(COMFY_ROUTER__PENDING_LIMIT="3")`."""
    started: list[LiveRouter] = []

    def start(**env: str) -> LiveRouter:
        router = LiveRouter(base_dir=tmp_path / f"router{len(started)}", env_overrides=env)
        started.append(router)
        return router.start()

    yield start
    for router in started:
        router.stop()


@pytest.fixture
def live_router(router_factory: Callable[..., LiveRouter]) -> LiveRouter:
    return router_factory()


@pytest.fixture(scope="module")
def module_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRouter]:
    """One router for a whole test module, for tests that only read or don't interfere."""
    router = LiveRouter(base_dir=tmp_path_factory.mktemp("router")).start()
    yield router
    router.stop()


@pytest.fixture
def cluster_factory(
    router_factory: Callable[..., LiveRouter],
) -> Iterator[Callable[..., Cluster]]:
    """`cluster_factory(nodes=2, COMFY_ROUTER__PENDING_LIMIT="5")`: a router plus fake nodes."""
    clusters: list[Cluster] = []

    def start(nodes: int = 1, knobs: dict[str, Any] | None = None, **env: str) -> Cluster:
        cluster = Cluster(router_factory(**env))
        clusters.append(cluster)
        checkpoints = cluster.router.root_dir / "models" / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        (checkpoints / "tiny.safetensors").write_bytes(b"weights")
        for _ in range(nodes):
            cluster.add_node(**(knobs or {}))
        return cluster

    yield start
    for cluster in clusters:
        cluster.router.stop()
        cluster.close()


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    return cluster_factory(nodes=1)


@pytest.fixture(autouse=True)
def fresh_pool_profile() -> None:
    """Each test's nodes are its own: the process's copy of the pool's profile starts empty."""
    from workflows.scheduling.capabilities import profiles

    profiles.forget()
