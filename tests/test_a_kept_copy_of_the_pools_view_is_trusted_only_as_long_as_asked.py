"""`VersionedCopy` (the pool's `/object_info`, kept per process) reads its version on every call
but one that trusts a copy read within `max_age`: such a call asks nothing, an older copy is
checked again, and a new version is built again."""

from __future__ import annotations

import time

from workflows.comfyui_api.pool import VersionedCopy


class Pool:
    def __init__(self) -> None:
        self.version, self.version_reads, self.builds = 1, 0, 0

    def read_version(self) -> int:
        self.version_reads += 1
        return self.version

    def build(self, version: int) -> tuple[str, bool]:
        self.builds += 1
        return f"built for {version}", True


def test_a_copy_read_within_max_age_is_used_without_asking() -> None:
    pool = Pool()
    copy = VersionedCopy(pool.read_version, pool.build)
    assert copy.current() == "built for 1"
    assert copy.current(max_age=60) == "built for 1"
    assert (pool.version_reads, pool.builds) == (1, 1)


def test_without_max_age_or_past_it_the_version_is_read_and_a_new_one_built() -> None:
    pool = Pool()
    copy = VersionedCopy(pool.read_version, pool.build)
    copy.current()
    pool.version = 2
    assert copy.current() == "built for 2"
    pool.version = 3
    time.sleep(0.02)
    assert copy.current(max_age=0.01) == "built for 3"
    assert (pool.version_reads, pool.builds) == (3, 3)


def test_a_copy_never_built_is_built_whatever_the_max_age() -> None:
    pool = Pool()
    assert VersionedCopy(pool.read_version, pool.build).current(max_age=60) == "built for 1"
