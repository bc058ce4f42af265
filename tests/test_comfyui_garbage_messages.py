"""Whatever a node sends, decoding it and folding it into a prompt's state never raises."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.garbage_comfyui import JUNK_BINARY, JUNK_TEXT
from workflows.comfyui.client import (
    ComfyUIClient,
    NodeProtocolError,
    PromptTracker,
    decode_message,
)

GRAPH = {"1": {"class_type": "SaveImage", "inputs": {}}}
WRONG_SHAPES: list[Any] = [None, 7, "text", [1, 2], {"a": "b"}, {"images": 5}, {"images": "x"}]


@pytest.mark.parametrize("frame", [*JUNK_BINARY, *JUNK_TEXT])
def test_a_junk_frame_decodes_to_an_event_the_tracker_can_ignore(frame: str | bytes) -> None:
    tracker = PromptTracker(GRAPH, "p1")
    tracker.feed(decode_message(frame))
    assert tracker.state is None


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("progress_state", {"prompt_id": "p1", "nodes": {"1": "running"}}),
        ("progress_state", {"prompt_id": "p1", "nodes": [1, 2]}),
        ("status", {"status": "idle"}),
        ("execution_cached", {"prompt_id": "p1", "nodes": 7}),
        ("progress", {"prompt_id": "p1", "value": "x", "max": {}}),
        *[("executed", {"prompt_id": "p1", "node": "1", "output": shape}) for shape in WRONG_SHAPES],
        ("execution_error", {"prompt_id": "p1", "traceback": 5}),
    ],
)
def test_a_message_of_the_wrong_shape_does_not_break_the_tracker(event_type: str, data: Any) -> None:
    tracker = PromptTracker(GRAPH, "p1")
    tracker.feed(decode_message(json.dumps({"type": event_type, "data": data})))
    assert tracker.outputs == []


@pytest.mark.parametrize(
    "entry",
    [
        {},
        {"status": "success"},
        {"status": {"messages": "many"}},
        {"status": {"messages": [["executed", {"node": "1", "output": 3}]]}},
        {"outputs": ["1"]},
        {"outputs": {"1": {"images": 9}}},
        {"outputs": {"1": {"images": [{"filename": "../../x.png"}]}}, "status": []},
    ],
)
def test_a_history_entry_of_the_wrong_shape_settles_without_raising(entry: dict[str, Any]) -> None:
    tracker = PromptTracker(GRAPH, "p1")
    tracker.apply_history(entry)
    assert tracker.ended


class QueueAnswer(ComfyUIClient):
    def __init__(self, answer: Any) -> None:
        super().__init__("http://127.0.0.1:9")
        self.answer = answer

    async def queue(self) -> Any:
        return self.answer


@pytest.mark.parametrize(
    "answer",
    [{"queue_running": 5, "queue_pending": "x"}, {"queue_running": [7, [1]], "queue_pending": [{}]}],
)
async def test_a_queue_of_the_wrong_shape_reads_as_empty(answer: Any) -> None:
    client = QueueAnswer(answer)
    assert await client.queue_prompt_ids() == ([], [])
    await client.aclose()


async def test_a_queue_that_is_not_a_mapping_is_a_protocol_error() -> None:
    client = QueueAnswer(["not", "a", "queue"])
    with pytest.raises(NodeProtocolError):
        await client.queue_prompt_ids()
    await client.aclose()
