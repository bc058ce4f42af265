"""A node's idle time before a prompt counts from the end of the prompt just before it (by the
node's own timestamps), whatever order the runs of the two heard of them in, and only while the
next task was already waiting."""

from __future__ import annotations

import time

from workflows.execution.run import PromptEnds


def test_the_end_just_before_the_start_counts_not_a_later_one() -> None:
    ends = PromptEnds()
    ends.ended(1, 1_000)
    ends.ended(1, 3_000)  # the next prompt's own end, heard of first
    assert ends.idle_before(1, 1_004, waiting_since=0.0) == 0.004


def test_no_end_before_the_start_or_on_another_node_gives_nothing() -> None:
    ends = PromptEnds()
    ends.ended(2, 1_000)
    assert ends.idle_before(1, 1_004, waiting_since=0.0) is None
    assert ends.idle_before(2, 999, waiting_since=0.0) is None


def test_a_task_that_came_after_the_end_was_not_kept_waiting_by_the_node() -> None:
    ends = PromptEnds()
    ends.ended(1, 1_000)
    assert ends.idle_before(1, 9_000, waiting_since=time.time() + 1) is None
