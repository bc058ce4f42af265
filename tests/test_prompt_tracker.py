"""PromptTracker folds one prompt's events into progress, previews, outputs and a final state."""

from __future__ import annotations

from tests.fake_comfyui.graphs import sd15_txt2img
from workflows.comfyui.client import (
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionStart,
    ExecutionSuccess,
    NodeProgress,
    PreviewImage,
    Progress,
    ProgressState,
    PromptTracker,
    describe_rejection,
)

OURS, OTHER = "ours", "other"


def running(tracker: PromptTracker) -> PromptTracker:
    tracker.feed(ExecutionStart(prompt_id=OURS))
    tracker.feed(ExecutionCached(nodes=[], prompt_id=OURS))
    return tracker


def test_it_ignores_messages_of_other_prompts() -> None:
    tracker = running(PromptTracker(sd15_txt2img(), OURS))
    assert not tracker.feed(ExecutionSuccess(prompt_id=OTHER))
    assert not tracker.feed(Executing(node=None, prompt_id=OTHER))
    assert not tracker.feed(
        PreviewImage(image_format="image/jpeg", data=b"x", node_id="3", prompt_id=OTHER)
    )
    assert tracker.state is None and not tracker.finished and tracker.latest_preview is None


def test_a_sampler_weighs_its_steps() -> None:
    tracker = running(PromptTracker(sd15_txt2img(steps=4), OURS))  # 6 nodes + 4 steps = 10
    for node in ("4", "5", "7", "6"):
        tracker.feed(
            ProgressState(
                prompt_id=OURS, nodes={node: NodeProgress(value=1.0, max=1.0, state="finished")}
            )
        )
    assert tracker.progress == 0.4
    tracker.feed(Progress(value=2, max=4, node="3", prompt_id=OURS))
    assert tracker.progress == 0.6
    tracker.feed(Progress(value=1, max=4, node="3", prompt_id=OURS))
    assert tracker.progress == 0.6  # never goes back


def test_executing_the_next_node_finishes_the_previous_one() -> None:
    tracker = running(PromptTracker(sd15_txt2img(steps=4), OURS))
    tracker.feed(Executing(node="4", prompt_id=OURS))
    tracker.feed(Executing(node="5", prompt_id=OURS))
    assert tracker.progress == 0.1


def test_a_png_frame_from_save_image_websocket_is_an_output_and_a_jpeg_from_the_sampler_a_preview() -> (
    None
):
    tracker = running(PromptTracker(sd15_txt2img(save="SaveImageWebsocket"), OURS))
    tracker.feed(Executing(node="3", prompt_id=OURS))
    tracker.feed(PreviewImage(image_format="image/jpeg", data=b"preview"))
    tracker.feed(Executing(node="9", prompt_id=OURS))
    tracker.feed(PreviewImage(image_format="image/png", data=b"output"))
    assert tracker.latest_preview is not None and tracker.latest_preview.data == b"preview"
    assert tracker.latest_preview.node_id == "3"
    assert [image.data for image in tracker.websocket_images] == [b"output"]


def test_a_preview_outside_our_run_is_ignored() -> None:
    tracker = PromptTracker(sd15_txt2img(), OURS)
    assert not tracker.feed(PreviewImage(image_format="image/jpeg", data=b"someone else's"))
    assert tracker.latest_preview is None


def test_outputs_are_collected_from_executed_messages_once() -> None:
    tracker = running(PromptTracker(sd15_txt2img(), OURS, output_node="9"))
    output = {
        "images": [{"filename": "a_00001_.png", "subfolder": "", "type": "output"}],
        "gifs": [{"filename": "a_00001_.webp", "subfolder": "x", "type": "output"}],
    }
    tracker.feed(Executed(node="9", output=output, prompt_id=OURS))
    tracker.feed(Executed(node="9", output=output, prompt_id=OURS))
    tracker.feed(
        Executed(node="12", output={"images": [{"filename": "other.png"}]}, prompt_id=OURS)
    )
    assert [(o.filename, o.subfolder, o.kind) for o in tracker.outputs] == [
        ("a_00001_.png", "", "images"),
        ("a_00001_.webp", "x", "gifs"),
    ]


def test_the_final_state_and_end_marker() -> None:
    tracker = running(PromptTracker(sd15_txt2img(), OURS))
    tracker.feed(
        ExecutionError(
            prompt_id=OURS,
            node_id="8",
            node_type="VAEDecode",
            exception_type="RuntimeError",
            exception_message="boom",
        )
    )
    assert tracker.state == "error" and tracker.finished and not tracker.ended
    tracker.feed(Executing(node=None, prompt_id=OURS))
    assert tracker.ended and tracker.error is not None and tracker.error.node_type == "VAEDecode"


def test_history_settles_an_interrupted_prompt() -> None:
    tracker = PromptTracker(sd15_txt2img(), OURS)
    tracker.apply_history(
        {
            "outputs": {},
            "status": {
                "status_str": "error",
                "completed": False,
                "messages": [
                    ["execution_start", {"prompt_id": OURS, "timestamp": 1}],
                    ["execution_cached", {"nodes": ["4"], "prompt_id": OURS, "timestamp": 1}],
                    [
                        "execution_interrupted",
                        {
                            "prompt_id": OURS,
                            "node_id": "3",
                            "node_type": "KSampler",
                            "executed": [],
                            "timestamp": 2,
                        },
                    ],
                ],
            },
        }
    )
    assert tracker.state == "interrupted" and tracker.finished
    assert tracker.interruption is not None and tracker.interruption.node_id == "3"


def test_node_errors_become_one_human_message() -> None:
    message = describe_rejection(
        {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed " "validation",
            "details": "",
            "extra_info": {},
        },
        {
            "1": {
                "errors": [
                    {
                        "type": "required_input_missing",
                        "message": "Required input is missing",
                        "details": "width",
                        "extra_info": {"input_name": "width"},
                    }
                ],
                "dependent_outputs": ["2"],
                "class_type": "EmptyImage",
            }
        },
    )
    assert message == "node 1 (EmptyImage) input 'width': Required input is missing (width)"
    assert (
        describe_rejection(
            {
                "type": "invalid_prompt",
                "message": "Cannot execute because node X does not " "exist.",
                "details": "Node ID '#2'",
            },
            {},
        )
        == "Cannot execute because node X does not exist.: Node ID '#2'"
    )
