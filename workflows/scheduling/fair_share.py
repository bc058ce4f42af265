"""Fair share of the pool among clients: the order in which ready tasks are offered to the
affinity rules (`workflows.scheduling.affinity.plan`), a pure function of plain data.

The rule, in order:
1. **Starvation bound.** A task that has waited longer than `PROMOTE_AFTER` goes before every
   task that has not, whatever its client's priority, oldest first: strict priority alone would
   let a busy high-priority client hold a low-priority one back forever. So in an overloaded
   pool every task starts within about PROMOTE_AFTER plus the time to run the tasks that
   waited past it before it.
2. **Priority.** Otherwise a higher `priority` goes first. The operator's own tasks (submitted
   with the Basic credentials, no client) count as one more client, of priority 0.
3. **Round-robin over nodes held.** Within a priority, each client's k-th waiting task takes
   turn `held + k`, `held` being how many of its tasks are on nodes now (running or queued
   ahead): the client holding the fewest nodes goes first, and clients that hold as many take
   turns. This is round-robin that remembers nothing between passes (the database already knows
   who holds what), so every dispatcher, in any process, agrees on it; and a client that comes
   late to a pool another client fills gets the next nodes to come free until it holds its share.
4. **First in, first out** within a client, and between equal turns (oldest task first).

Model affinity applies inside this order: `plan` may still let a later task pass one that waits
a moment for a node with its model loaded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

# Seconds a task may wait before it goes ahead of every priority (rule 1): long next to a job,
# so priorities hold through a burst, and short enough that no task waits for hours.
PROMOTE_AFTER = 300.0

OPERATOR_PRIORITY = 0  # the operator's tasks: one more client (None), of this priority


class ClientTask(Protocol):
    @property
    def client(self) -> Hashable: ...  # None: the operator's own task
    @property
    def priority(self) -> int | None: ...  # the client's; None: the operator's
    @property
    def created_at(self) -> datetime: ...


C = TypeVar("C", bound=ClientTask)


def fair_order(
    tasks: Sequence[C], *, held: Mapping[Hashable, int], promote_before: datetime
) -> list[C]:
    """`tasks` in the order they should get nodes. `held` counts each client's tasks on nodes
    now (missing: none); a task created before `promote_before` has waited past the bound."""
    waiting: Counter[Hashable] = Counter()
    keyed = []
    for task in sorted(tasks, key=lambda task: task.created_at):
        waiting[task.client] += 1
        turn = held.get(task.client, 0) + waiting[task.client]
        keyed.append((order_key(task, promote_before, turn), task))
    keyed.sort(key=lambda entry: entry[0])
    return [task for _, task in keyed]


def order_key(
    task: ClientTask, promote_before: datetime, turn: int
) -> tuple[datetime, int, int, datetime]:
    """Lower goes first. Its first part is `promote_before` for every task within the bound, so
    that priority and turn decide among those, and the task's own age for those past it (rule
    1). The ready-task read orders by the same key, with each client's place in its own queue
    as the turn, so that it reads the tasks this order puts first."""
    since = min(task.created_at, promote_before)
    return (since, -priority_of(task.priority), turn, task.created_at)


def priority_of(priority: int | None) -> int:
    return OPERATOR_PRIORITY if priority is None else priority
