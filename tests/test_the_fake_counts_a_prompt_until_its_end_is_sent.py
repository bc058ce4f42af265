"""The fake ComfyUI counts a prompt as queued or running until its end message goes out, not until
it leaves the queue a moment later: ComfyUI sends `execution_success` before it takes the prompt
off its queue, and a router that posts the next prompt on hearing it holds no more than before.
Counted until it left, a third prompt could show on a node with one queued ahead whenever the
fake was slow to go on after sending the message (seen once in a scaled-out run)."""

from __future__ import annotations

from tests.fake_comfyui import FakeLog, PromptRecord


def record(prompt_id: str) -> PromptRecord:
    return PromptRecord(prompt_id, "c", {}, {}, 0.0, submitted=0.0)


def test_a_prompt_posted_on_hearing_an_end_counts_beside_the_one_queued_but_not_the_ended_one() -> (
    None
):
    log = FakeLog()
    running, queued, next_one = record("a"), record("b"), record("c")
    log.prompt_accepted(running)
    log.prompt_accepted(queued)

    log.prompt_ending(running)  # execution_success goes out; the router posts its refill at once
    log.prompt_accepted(next_one)
    log.prompt_left(running, "success", 1.0)  # then the prompt leaves the queue

    assert (log.active, log.max_active) == (2, 2)
    assert (running.outcome, running.ended) == ("success", 1.0)


def test_a_prompt_deleted_from_the_queue_stops_counting_when_it_leaves() -> None:
    log = FakeLog()
    deleted = record("a")
    log.prompt_accepted(deleted)

    log.prompt_left(deleted, "deleted", 1.0)
    log.prompt_ending(deleted)  # nothing more to count

    assert (log.active, log.max_active) == (0, 1)
