"""Decoding ComfyUI's websocket frames into events."""

from __future__ import annotations

import json
import struct

from workflows.comfyui.client import (
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    FeatureFlags,
    PreviewImage,
    Progress,
    ProgressState,
    Status,
    TextEvent,
    Unknown,
    decode_event,
    decode_message,
)

PROMPT_ID = "13b967ed-a59f-4ff4-b2a7-1a642e38b571"


def text(event_type: str, data: object) -> str:
    return json.dumps({"type": event_type, "data": data})


def test_it_decodes_status_with_and_without_sid() -> None:
    first = decode_message(
        text("status", {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "abc"})
    )
    later = decode_message(text("status", {"status": {"exec_info": {"queue_remaining": 2}}}))
    assert first == Status(queue_remaining=0, sid="abc")
    assert later == Status(queue_remaining=2, sid=None)


def test_the_end_marker_is_executing_with_no_node() -> None:
    assert decode_message(text("executing", {"node": None, "prompt_id": PROMPT_ID})) == Executing(
        node=None, prompt_id=PROMPT_ID
    )
    assert decode_message(
        text("executing", {"node": "9", "display_node": "9", "prompt_id": PROMPT_ID})
    ) == Executing(node="9", prompt_id=PROMPT_ID)


def test_it_decodes_progress_messages() -> None:
    progress = decode_message(
        text("progress", {"value": 1, "max": 20, "prompt_id": PROMPT_ID, "node": "3"})
    )
    state = decode_message(
        text(
            "progress_state",
            {
                "prompt_id": PROMPT_ID,
                "nodes": {
                    "3": {
                        "value": 1,
                        "max": 20,
                        "state": "running",
                        "node_id": "3",
                        "prompt_id": PROMPT_ID,
                        "display_node_id": "3",
                        "parent_node_id": None,
                        "real_node_id": "3",
                    }
                },
            },
        )
    )
    assert progress == Progress(value=1, max=20, node="3", prompt_id=PROMPT_ID)
    assert isinstance(state, ProgressState) and state.nodes["3"].state == "running"
    assert state.nodes["3"].value / state.nodes["3"].max == 0.05


def test_it_decodes_errors_and_interruptions_with_comfyuis_keys() -> None:
    error = decode_message(
        text(
            "execution_error",
            {
                "prompt_id": PROMPT_ID,
                "node_id": "1",
                "node_type": "LoadImage",
                "executed": [],
                "exception_message": "cannot identify image file\n",
                "exception_type": "PIL.UnidentifiedImageError",
                "traceback": ["  File ..."],
                "current_inputs": {},
                "current_outputs": [],
                "timestamp": 1,
            },
        )
    )
    interrupted = decode_message(
        text(
            "execution_interrupted",
            {
                "prompt_id": PROMPT_ID,
                "node_id": "4",
                "node_type": "ImageBlur",
                "executed": ["3", "1", "2"],
                "timestamp": 1,
            },
        )
    )
    assert isinstance(error, ExecutionError)
    assert (error.node_id, error.node_type, error.exception_type) == (
        "1",
        "LoadImage",
        "PIL.UnidentifiedImageError",
    )
    assert interrupted == ExecutionInterrupted(
        prompt_id=PROMPT_ID, node_id="4", node_type="ImageBlur", executed=["3", "1", "2"],
        timestamp=1,
    )


def test_it_decodes_cached_nodes_and_feature_flags() -> None:
    assert decode_event(
        "execution_cached", {"nodes": ["4", "6"], "prompt_id": PROMPT_ID}
    ) == ExecutionCached(nodes=["4", "6"], prompt_id=PROMPT_ID)
    assert decode_message(
        text("feature_flags", {"supports_preview_metadata": True})
    ) == FeatureFlags(flags={"supports_preview_metadata": True})


def test_a_preview_frame_carries_its_image_format() -> None:
    jpeg = decode_message(struct.pack(">II", 1, 1) + b"\xff\xd8jpeg")
    png = decode_message(struct.pack(">II", 1, 2) + b"\x89PNGdata")
    assert jpeg == PreviewImage(image_format="image/jpeg", data=b"\xff\xd8jpeg")
    assert png == PreviewImage(image_format="image/png", data=b"\x89PNGdata")


def test_a_preview_with_metadata_names_its_node_and_prompt() -> None:
    metadata = json.dumps(
        {
            "node_id": "2",
            "prompt_id": PROMPT_ID,
            "display_node_id": "2",
            "parent_node_id": None,
            "real_node_id": "2",
            "image_type": "image/png",
        }
    ).encode()
    event = decode_message(struct.pack(">II", 4, len(metadata)) + metadata + b"\x89PNGdata")
    assert event == PreviewImage(
        image_format="image/png", data=b"\x89PNGdata", node_id="2", prompt_id=PROMPT_ID
    )


def test_a_text_frame_names_its_node() -> None:
    event = decode_message(
        struct.pack(">II", 3, 1) + b"2" + "width: 64, height: 48\n batch size: 2".encode()
    )
    assert event == TextEvent(node_id="2", text="width: 64, height: 48\n batch size: 2")


def test_unknown_or_broken_messages_do_not_raise() -> None:
    assert isinstance(decode_message(text("crystools.monitor", {"cpu": 3})), Unknown)
    assert isinstance(decode_message("not json"), Unknown)
    assert isinstance(decode_message(b"\x00\x00"), Unknown)
    assert isinstance(decode_message(struct.pack(">II", 9, 0)), Unknown)
    assert isinstance(decode_message(text("progress", {"value": "x"})), Unknown)
