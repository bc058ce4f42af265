"""A live preview past 2 MiB is not kept (the one before it stays): the latest preview is stored
and served to anyone holding the task's id, so a node sending huge ones must not make each poll
costly. SaveImageWebsocket frames are outputs, not previews, and are not bound by it."""

from __future__ import annotations

from tests.fake_comfyui.graphs import sd15_txt2img
from workflows.comfyui.client import (
    Executing,
    ExecutionCached,
    ExecutionStart,
    PreviewImage,
    PromptTracker,
)

TWO_MIB = 2 * 1024 * 1024
PROMPT = "ours"


def sampling() -> PromptTracker:
    tracker = PromptTracker(sd15_txt2img(save="SaveImageWebsocket"), PROMPT)
    tracker.feed(ExecutionStart(prompt_id=PROMPT))
    tracker.feed(ExecutionCached(nodes=[], prompt_id=PROMPT))
    tracker.feed(Executing(node="3", prompt_id=PROMPT))  # the sampler
    return tracker


def test_a_preview_of_2_mib_is_kept() -> None:
    tracker = sampling()
    assert tracker.feed(PreviewImage(image_format="image/jpeg", data=b"j" * TWO_MIB))
    assert tracker.latest_preview is not None and len(tracker.latest_preview.data) == TWO_MIB


def test_a_preview_past_2_mib_is_dropped_and_the_one_before_stays() -> None:
    tracker = sampling()
    tracker.feed(PreviewImage(image_format="image/jpeg", data=b"small"))
    assert not tracker.feed(PreviewImage(image_format="image/jpeg", data=b"j" * (TWO_MIB + 1)))
    assert tracker.latest_preview is not None and tracker.latest_preview.data == b"small"


def test_a_first_preview_past_2_mib_leaves_none() -> None:
    tracker = sampling()
    assert not tracker.feed(PreviewImage(image_format="image/jpeg", data=b"j" * 20 * 1024 * 1024))
    assert tracker.latest_preview is None


def test_a_websocket_output_past_2_mib_is_still_an_output() -> None:
    tracker = sampling()
    tracker.feed(Executing(node="9", prompt_id=PROMPT))  # SaveImageWebsocket
    assert tracker.feed(PreviewImage(image_format="image/png", data=b"p" * (TWO_MIB + 1)))
    assert [len(image.data) for image in tracker.websocket_images] == [TWO_MIB + 1]
