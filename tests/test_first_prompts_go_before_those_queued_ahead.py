"""A pass that gives idle nodes their first prompt and busy ones a prompt to queue ahead starts
the runs of the first ones first: those queued ahead start once every first prompt of the pass
is on its node, or after FIRSTS_FIRST, so that a pool coming online with a backlog gets its
idle nodes going before the router spends its time on prompts that only wait in a queue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from workflows.execution import start
from workflows.scheduling.assignment import Assigned


class Recorder:
    """`start_run`, recorded: each first prompt's run reports it sent when the test says so."""

    def __init__(self, *, scaled_out: bool = False) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.sent: dict[str, asyncio.Event] = {}
        self.scaled_out = scaled_out

    async def __call__(
        self, task: Any, owner: str, *, fresh: bool, ahead: bool = False
    ) -> asyncio.Event | None:
        assert fresh
        self.calls.append((task, ahead))
        if self.scaled_out or ahead:
            return None
        event = self.sent[task] = asyncio.Event()
        return event

    async def until_calls(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.calls) < count:
                await asyncio.sleep(0.005)


def a_pass() -> Assigned:
    """Node A idle: its first prompt and one queued behind it; node B idle: its first prompt;
    node C busy: a prompt queued ahead. The database's order mixes them."""
    return Assigned(
        started=[
            ("a-first", "o", False),
            ("a-behind", "o", True),
            ("c-behind", "o", True),
            ("b-first", "o", False),
        ]
    )


async def test_queued_ahead_runs_start_once_every_first_prompt_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = Recorder()
    monkeypatch.setattr(start, "start_run", runs)
    await start.start_runs(a_pass())
    assert runs.calls == [("a-first", False), ("b-first", False)]
    runs.sent["a-first"].set()
    await asyncio.sleep(0.05)
    assert len(runs.calls) == 2  # b's first prompt is not on its node yet
    runs.sent["b-first"].set()
    await runs.until_calls(4)
    assert runs.calls[2:] == [("a-behind", True), ("c-behind", True)]


async def test_a_first_prompt_slow_to_be_sent_holds_the_queued_ahead_ones_back_at_most_firsts_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = Recorder()
    monkeypatch.setattr(start, "start_run", runs)
    monkeypatch.setattr(start, "FIRSTS_FIRST", 0.1)
    started = asyncio.get_running_loop().time()
    await start.start_runs(a_pass())
    runs.sent["a-first"].set()  # b's node never answers
    await runs.until_calls(4)
    assert asyncio.get_running_loop().time() - started >= 0.1
    assert runs.calls[2:] == [("a-behind", True), ("c-behind", True)]


async def test_runs_that_go_to_workers_start_in_the_passs_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = Recorder(scaled_out=True)  # each run is a message to whichever worker takes it
    monkeypatch.setattr(start, "start_run", runs)
    await start.start_runs(a_pass())
    assert runs.calls == [
        ("a-first", False),
        ("b-first", False),
        ("a-behind", True),
        ("c-behind", True),
    ]
