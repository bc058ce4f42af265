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

A task queued ahead on a busy node (NODE__QUEUE_AHEAD) holds a place this order gave it before a
fairer task came: `fair_steals` says which such tasks, not started yet, to take back so that the
place goes to a waiting task that comes before them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
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
Key = tuple[datetime, int, int, datetime]  # (since, -priority, turn, created_at): see order_key


def fair_order(
    tasks: Sequence[C], *, held: Mapping[Hashable, int], promote_before: datetime
) -> list[C]:
    """`tasks` in the order they should get nodes. `held` counts each client's tasks on nodes
    now (missing: none); a task created before `promote_before` has waited past the bound."""
    return [task for _, task in keyed_in_order(tasks, held, promote_before)]


def keyed_in_order(
    tasks: Sequence[C], held: Mapping[Hashable, int], promote_before: datetime
) -> list[tuple[Key, C]]:
    """Each task with its `order_key`, in that order: each client's k-th oldest takes turn
    `held + k`."""
    waiting: Counter[Hashable] = Counter()
    keyed = []
    for task in sorted(tasks, key=lambda task: task.created_at):
        waiting[task.client] += 1
        turn = held.get(task.client, 0) + waiting[task.client]
        keyed.append((order_key(task, promote_before, turn), task))
    keyed.sort(key=lambda entry: entry[0])
    return keyed


def order_key(task: ClientTask, promote_before: datetime, turn: int) -> Key:
    """Lower goes first. Its first part is `promote_before` for every task within the bound, so
    that priority and turn decide among those, and the task's own age for those past it (rule
    1). The ready-task read orders by the same key, with each client's place in its own queue
    as the turn, so that it reads the tasks this order puts first."""
    since = min(task.created_at, promote_before)
    return (since, -priority_of(task.priority), turn, task.created_at)


def priority_of(priority: int | None) -> int:
    return OPERATOR_PRIORITY if priority is None else priority


class WaitingTask(ClientTask, Protocol):
    @property
    def main_model(self) -> str: ...


class QueuedTask(ClientTask, Protocol):
    """A task queued ahead on a busy node, behind the prompt running there."""

    @property
    def pk(self) -> Hashable: ...
    @property
    def node(self) -> Hashable: ...
    @property
    def node_model(self) -> str: ...  # the model the node will have loaded when its turn comes
    @property
    def queued_for(self) -> float: ...  # seconds since it was queued
    @property
    def asked(self) -> bool: ...  # already asked to move: a steal in flight
    @property
    def started(self) -> bool: ...  # known to have started on its node


W = TypeVar("W", bound=WaitingTask)
Q = TypeVar("Q", bound=QueuedTask)


def fair_steals(
    waiting: Sequence[W],
    queued: Sequence[Q],
    *,
    held: Mapping[Hashable, int],
    promote_before: datetime,
    can_run: Callable[[W, Q], bool] = lambda task, queued: True,
    in_flight: int = 0,
) -> list[tuple[W, Q]]:
    """Which queued-ahead tasks to take back, each for the waiting task whose place it holds.

    A queued task is weighed at the turn it would take if it were given back (its client then
    holds one fewer); a waiting one at its turn in `fair_order`, `held` counting every task on a
    node. Waiting tasks go in the fair order, and one that comes before some queued task of
    another client, not started, on a node that can run it, gains a place:
    1. one already being freed serves it first (`in_flight` plus the tasks already asked to
       move), so a slot is never asked for twice;
    2. otherwise it takes the queued task on a node that will have its model loaded, then the
       one of the client furthest behind its turn, then the one queued longest (its node's
       prompt ends soonest, most likely);
    3. at most one steal per waiting task; a task ahead of it in the fair order, or its own
       client's (first in, first out is already right), is never taken.
    Model affinity is not waited for: a fair place now beats a warm one later, and a queued task
    behind its own model is taken as readily as any (`affinity.steals`, for idle nodes, lets it
    stay a while)."""
    holding = Counter(held)
    for task in queued:
        if task.asked:
            holding[task.client] -= 1
    slots_in_flight = in_flight + sum(task.asked for task in queued)
    candidates = [task for task in queued if not task.asked and not task.started]
    steals: list[tuple[W, Q]] = []
    for key, task in keyed_in_order(waiting, held, promote_before):
        if not candidates:
            break
        places = {
            queued.pk: order_key(queued, promote_before, holding[queued.client])
            for queued in candidates
        }
        gain = [
            queued
            for queued in candidates
            if queued.client != task.client and places[queued.pk] > key and can_run(task, queued)
        ]
        if not gain:
            continue
        if slots_in_flight:
            slots_in_flight -= 1
            continue
        taken = max(
            gain,
            key=lambda queued: (
                bool(task.main_model) and queued.node_model == task.main_model,
                places[queued.pk][:3],
                queued.queued_for,
            ),
        )
        candidates.remove(taken)
        holding[taken.client] -= 1
        steals.append((task, taken))
    return steals
