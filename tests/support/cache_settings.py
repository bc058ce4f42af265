"""Points the router's cache at a test's own directories: `cache_dirs` fixture."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from downloads import claims, fetch, services


@dataclass(frozen=True)
class CacheDirs:
    cache_dir: Path
    root_dir: Path
    record_path: Path

    def files(self) -> list[str]:
        return sorted(p.name for p in self.cache_dir.iterdir()) if self.cache_dir.exists() else []


def configure(settings: object, **changes: object) -> None:
    router = settings.ROUTER  # type: ignore[attr-defined]
    settings.ROUTER = dataclasses.replace(router, **changes)  # type: ignore[attr-defined]


@pytest.fixture
def cache_dirs(settings: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CacheDirs]:
    dirs = CacheDirs(tmp_path / "cache", tmp_path / "comfyui", tmp_path / "record.json")
    dirs.cache_dir.mkdir()
    configure(
        settings,
        cache_dir=dirs.cache_dir,
        root_dir=dirs.root_dir,
        record_path=dirs.record_path,
        max_cache_bytes=10 * 1024 * 1024,
        block_private_networks=False,
        download_timeout=5.0,
    )
    monkeypatch.setattr(fetch, "BACKOFF_SECONDS", (0.01, 0.02, 0.04))
    monkeypatch.setattr(services, "POLL_INTERVAL", 0.05)
    monkeypatch.setattr(services, "PROGRESS_INTERVAL", 0.05)
    monkeypatch.setattr(claims, "STALE_AFTER", 20.0)
    yield dirs
