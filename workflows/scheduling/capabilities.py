"""What each node can run, as the router knows it (`nodes.capabilities`), and which node can run
what a task needs.

The pool's profile (each node's classes, model files and labels) is read once per change and
kept in this process, so that neither a submission nor a dispatch pass reads `/object_info`'s
hundreds of names per node: a dispatch pass compares the stamps of the nodes it read anyway, and
a submission trusts a copy checked in the last second for an accept, and checks again before it
refuses (a node registered a moment ago may be the one that can run it).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max

from nodes.models import Node
from workflows.graphs.requirements import TaskNeeds


@dataclass(frozen=True)
class NodeProfile:
    pk: int
    reported: bool  # False: the node has not said what it has (it may have anything)
    classes: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    changed_at: datetime | None = None  # the node's `profile_changed_at` when read

    def can_run(self, needs: TaskNeeds) -> bool:
        if not needs.labels <= self.labels:
            return False
        return not self.reported or (needs.classes <= self.classes and needs.models <= self.models)


@dataclass
class PoolProfile:
    nodes: dict[int, NodeProfile] = field(default_factory=dict)

    def can_run(self, node_id: int, needs: TaskNeeds) -> bool:
        profile = self.nodes.get(node_id)
        return profile is None or profile.can_run(needs)  # None: registered since the last read

    def capable(self, needs: TaskNeeds) -> list[NodeProfile]:
        return [profile for profile in self.nodes.values() if profile.can_run(needs)]


class PoolProfiles:
    """This process's copy of the pool's profile, read again when a node's changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._checked = -math.inf  # monotonic time of the last look at the stamp
        self._pool = PoolProfile()

    def current(self, *, max_age: float = 0.0) -> PoolProfile:
        """The pool's profile, as checked against the database at most `max_age` seconds ago."""
        if time.monotonic() - self._checked <= max_age:
            return self._pool
        checked = time.monotonic()
        stamp = tuple(
            Node.objects.aggregate(
                count=Count("pk"),
                reported=Count("capabilities_at"),
                changed=Max("profile_changed_at"),
                newest=Max("pk"),
            ).values()
        )
        with self._lock:
            if stamp == self._stamp:
                self._checked = checked
                return self._pool
        pool = PoolProfile({profile.pk: profile for profile in _read_profiles()})
        with self._lock:
            self._stamp, self._pool, self._checked = stamp, pool, checked
        return pool

    def forget(self) -> None:
        """Drops the copy: the next call reads the pool (a database emptied under it, as between
        tests, can look unchanged to the stamp for a while)."""
        with self._lock:
            self._stamp, self._pool, self._checked = None, PoolProfile(), -math.inf

    def for_nodes(self, stamps: Iterable[tuple[int, datetime, bool]]) -> PoolProfile:
        """The pool's profile, read again only if one of these nodes (pk, `profile_changed_at`,
        has reported) is not as the copy has it."""
        pool = self._pool
        for pk, changed_at, reported in stamps:
            known = pool.nodes.get(pk)
            if known is None or known.changed_at != changed_at or known.reported != reported:
                return self.current()
        return pool


def _read_profiles() -> Iterable[NodeProfile]:
    rows = Node.objects.values_list(
        "pk", "capabilities_at", "node_classes", "model_files", "labels", "profile_changed_at"
    )
    for pk, reported_at, classes, files, labels, changed_at in rows:
        yield NodeProfile(
            pk=pk,
            reported=reported_at is not None,
            classes=frozenset(classes or ()),
            models=frozenset(
                f"{folder}/{name}" for folder, names in (files or {}).items() for name in names
            ),
            labels=frozenset(labels or ()),
            changed_at=changed_at,
        )


profiles = PoolProfiles()


@dataclass(frozen=True)
class Shortfall:
    """Why no registered node could run a task: labels no node has, then (among the nodes with
    the labels) classes and model files no node has; when each is somewhere but never all on one
    node, `apart` is True and all of them are named."""

    labels: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    apart: bool = False


def shortfall(needs: TaskNeeds, pool: PoolProfile) -> Shortfall | None:
    """None when some registered node could run a task with these needs, or none is registered
    (a task then waits for one)."""
    if not pool.nodes or pool.capable(needs):
        return None
    labelled = [p for p in pool.nodes.values() if needs.labels <= p.labels]
    if not labelled:
        known = frozenset().union(*(p.labels for p in pool.nodes.values()))
        return Shortfall(labels=(needs.labels - known) or needs.labels)
    reported = [p for p in labelled if p.reported]
    classes = needs.classes - frozenset().union(*(p.classes for p in reported))
    models = needs.models - frozenset().union(*(p.models for p in reported))
    if classes or models:
        return Shortfall(classes=classes, models=models)
    return Shortfall(classes=needs.classes, models=needs.models, apart=True)
