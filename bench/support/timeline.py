"""Where the nodes' time went in one run, read from the fake nodes' own logs (their clock is the
bench's: `time.monotonic()` in this process)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from tests.fake_comfyui import FakeComfyUIThread, PromptRecord


@dataclass
class Spread:
    ran: list[PromptRecord]  # the prompts that ran, each to success
    first_start: float  # the first prompt's start on any node
    last_end: float  # the last prompt's end on any node
    busy: float  # the prompts' time on the nodes, summed
    first_starts: list[float]  # each node's wait for its first prompt
    gaps: list[float]  # between two prompts on a node
    idle_at_end: list[float]  # each node's wait after its last prompt for the last one to end
    # For each prompt but a node's first: how long before the prompt ahead of it ended it
    # reached the node (negative: the node was left waiting for it that long, less its start).
    posted_ahead: list[float]
    taken_back: int  # prompts deleted from a node's queue before they started (steals)

    @property
    def makespan(self) -> float:
        """From the first prompt starting on any node to the last one ending."""
        return self.last_end - self.first_start

    @classmethod
    def of(cls, fakes: Sequence[FakeComfyUIThread], tasks: int) -> Spread:
        prompts = [p for fake in fakes for p in fake.log.prompts]
        ran = [p for p in prompts if p.outcome != "deleted"]
        assert len(ran) == tasks, f"{len(ran)} prompts ran, not {tasks}"
        assert all(p.outcome == "success" for p in ran), "a prompt did not succeed"
        first = min(p.started for p in ran)
        last = max(p.ended for p in ran)
        runs = [
            sorted((p for p in fake.log.prompts if p.outcome != "deleted"), key=lambda p: p.started)
            for fake in fakes
        ]
        return cls(
            ran=ran,
            first_start=first,
            last_end=last,
            busy=sum(p.ended - p.started for p in ran),
            first_starts=[run[0].started - first for run in runs if run],
            gaps=[b.started - a.ended for run in runs for a, b in pairwise(run)],
            idle_at_end=[last - run[-1].ended for run in runs if run],
            posted_ahead=[a.ended - b.submitted for run in runs for a, b in pairwise(run)],
            taken_back=len(prompts) - len(ran),
        )
