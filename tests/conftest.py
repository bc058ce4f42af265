"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
