"""The dispatcher gathers refill nudges (a run ended on a node that still holds its next prompt)
before its pass, so that one pass fills several nodes (`comfy_router.wakeups`,
`workflows.dispatch.loop`): refill nudges alone start the pass only when the gathering window
ends; any other nudge, or stop, ends the window at once. Wake-up messages through the channel
layer are turned into nudges with the same flags.

The passes are recorded rather than run (`dispatch_once` is replaced), the sweep never comes
(SWEEP_INTERVAL is an hour), and where a window must not close by itself it lasts 30 s: what
is asserted is the order of nudges and passes, and times only as generous bounds. `Waits.gather`
is wrapped (it still runs) only to know when the loop is gathering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from channels.layers import InMemoryChannelLayer

from comfy_router.wakeups import DISPATCH_CHANNEL, local_dispatcher
from workflows.dispatch import loop
from workflows.tasks import leases

# The loop reaches the database thread (its start-up, stubbed here, still goes through
# database_sync_to_async, which checks the thread's connection): allowed, as in a real pass.
pytestmark = pytest.mark.django_db(transaction=True)

NEVER = 30.0  # a gathering window that cannot close by itself during a test
BOUND = 5.0  # what must happen "at once" happens within this, however loaded the machine


@dataclass
class Dispatcher:
    """The running loop, what happened to it in order (passes and the test's nudges), and when
    it was gathering."""

    layer: InMemoryChannelLayer
    log: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # loop time of each log entry
    gathering: asyncio.Event = field(default_factory=asyncio.Event)
    gathers: int = 0

    def note(self, what: str) -> None:
        self.log.append(what)
        self.times.append(asyncio.get_running_loop().time())

    def passes(self) -> int:
        return self.log.count("pass")

    def nudge(self, *, refill: bool) -> None:
        self.note("refill" if refill else "urgent")
        assert local_dispatcher.nudge(refill=refill)

    async def send(self, *, refill: bool) -> None:
        self.note("refill message" if refill else "urgent message")
        await self.layer.send(
            DISPATCH_CHANNEL, {"type": "dispatch.wakeup", "downloads": False, "refill": refill}
        )

    async def until_passes(self, count: int) -> None:
        async def reached() -> None:
            while self.passes() < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(reached(), timeout=BOUND)

    async def until_gathering(self) -> None:
        await asyncio.wait_for(self.gathering.wait(), timeout=BOUND)


@asynccontextmanager
async def dispatcher(monkeypatch: pytest.MonkeyPatch, gather: float) -> AsyncIterator[Dispatcher]:
    """`loop.run` with recorded passes and its own in-memory channel layer, started (its first
    pass made) and, on leaving, stopped and awaited."""
    layer = InMemoryChannelLayer()
    recorded = Dispatcher(layer)

    async def dispatch_once(*, sweep: bool = True) -> None:
        recorded.note("pass")
        await asyncio.sleep(0)  # as a real pass, which waits for the database thread

    real_gather = loop.Waits.gather

    async def gather_spied(self: loop.Waits, urgent: asyncio.Event, timeout: float) -> None:
        recorded.gathers += 1
        recorded.gathering.set()
        await real_gather(self, urgent, timeout)

    monkeypatch.setattr(loop, "dispatch_once", dispatch_once)
    monkeypatch.setattr(loop, "REFILL_GATHER", gather)
    monkeypatch.setattr(loop, "SWEEP_INTERVAL", 3600.0)
    monkeypatch.setattr(loop, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(leases, "leases_expire_all", lambda: 0)  # nothing to resume
    monkeypatch.setattr(loop.Waits, "gather", gather_spied)

    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await recorded.until_passes(1)  # the first pass (the sweep): it listens by now
        assert recorded.log == ["pass"]
        yield recorded
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=BOUND)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await layer.flush()
    assert not local_dispatcher.nudge(), "the loop did not stop listening"


async def test_refill_nudges_alone_start_one_pass_only_when_the_gathering_window_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = 1.0  # long enough that the nudges sent at once all land in it
    async with dispatcher(monkeypatch, gather=window) as d:
        d.nudge(refill=True)
        await d.until_gathering()
        d.nudge(refill=True)  # more nodes ended a prompt meanwhile
        d.nudge(refill=True)
        assert d.passes() == 1, "a pass started before the window ended"
        await d.until_passes(2)
        first_nudge, second_pass = d.times[1], d.times[4]
        assert second_pass - first_nudge >= window - 0.05, "the pass did not wait for the window"
        await asyncio.sleep(0.5)  # and those nudges make no pass more
        assert d.log == ["pass", "refill", "refill", "refill", "pass"]
        assert d.gathers == 1


async def test_an_urgent_nudge_during_the_gathering_starts_one_pass_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with dispatcher(monkeypatch, gather=NEVER) as d:
        d.nudge(refill=True)
        await d.until_gathering()
        assert d.passes() == 1
        d.nudge(refill=False)
        await d.until_passes(2)  # well before the window's 30 s
        await asyncio.sleep(0.3)  # one pass for both nudges
        assert d.log == ["pass", "refill", "urgent", "pass"]


async def test_stop_during_the_gathering_ends_the_loop_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with dispatcher(monkeypatch, gather=NEVER) as d:
        d.nudge(refill=True)
        await d.until_gathering()
        started = asyncio.get_running_loop().time()
    # Leaving the block set stop and awaited the loop (within BOUND, else it failed there).
    assert asyncio.get_running_loop().time() - started < BOUND
    assert d.log == ["pass", "refill"], "stop made a pass"


async def test_a_refill_wakeup_message_is_gathered_like_a_local_refill_nudge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = 1.0  # long enough that the nudges sent at once all land in it
    async with dispatcher(monkeypatch, gather=window) as d:
        await d.send(refill=True)
        await d.until_gathering()
        d.nudge(refill=True)
        assert d.passes() == 1, "a pass started before the window ended"
        await d.until_passes(2)
        sent, second_pass = d.times[1], d.times[3]
        assert second_pass - sent >= window - 0.05, "the pass did not wait for the window"
        await asyncio.sleep(0.5)
        assert d.log == ["pass", "refill message", "refill", "pass"]
        assert d.gathers == 1


async def test_a_wakeup_message_without_refill_starts_a_pass_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with dispatcher(monkeypatch, gather=NEVER) as d:
        await d.send(refill=False)
        await d.until_passes(2)  # well before the window's 30 s
        assert d.log == ["pass", "urgent message", "pass"]
        assert d.gathers == 0
