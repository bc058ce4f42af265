"""`ComfyUI` workflows: any API-format graph, checked, with URLs and inline images made local."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from comfy_router.errors import flatten_errors
from downloads.naming import cache_file_name
from tests.test_graph_validation import SD15_TXT2IMG
from tests.workflow_params import png_base64
from workflows.api.params import validate_submission
from workflows.graphs import limits
from workflows.graphs.builders import FileToFetch


def submit(graph: Any, **params: Any):
    return validate_submission({"type": "ComfyUI", "params": {"prompt": graph, **params}})


def field_errors(graph: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        submit(graph)
    return flatten_errors(raised.value.detail)


def sd15_graph(**changes: dict[str, Any]) -> dict[str, Any]:
    graph = copy.deepcopy(SD15_TXT2IMG)
    for node_id, inputs in changes.items():
        graph[node_id]["inputs"].update(inputs)
    return graph


def test_a_valid_graph_is_kept_as_is_with_its_sampler_seed_and_model():
    submission = submit(SD15_TXT2IMG)
    result = submission.build
    assert result.graph == SD15_TXT2IMG
    assert result.sampler_node == "3" and result.seed == 42
    assert result.output_node is None
    assert result.main_model == "any_file.safetensors"
    assert result.files == () and result.inline_files == ()
    assert submission.params == {"prompt": SD15_TXT2IMG}


def test_urls_in_core_loader_inputs_become_cached_files_in_their_folders():
    checkpoint = "https://models.example.com/model.safetensors"
    lora = "https://models.example.com/lora.safetensors"
    image = "https://images.example.com/in.png"
    graph = sd15_graph(**{"4": {"ckpt_name": checkpoint}})
    graph["20"] = {
        "class_type": "LoraLoader",
        "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": lora, "strength_model": 1, "strength_clip": 1},
    }
    graph["21"] = {"class_type": "LoadImage", "inputs": {"image": image}}
    graph["22"] = {"class_type": "LoadImageMask", "inputs": {"image": {"type": "url", "content": image}, "channel": "red"}}
    submission = submit(graph)
    result = submission.build
    assert result.graph["4"]["inputs"]["ckpt_name"] == cache_file_name(checkpoint)
    assert result.graph["20"]["inputs"]["lora_name"] == cache_file_name(lora)
    assert result.graph["21"]["inputs"]["image"] == cache_file_name(image)
    assert result.graph["22"]["inputs"]["image"] == cache_file_name(image)
    assert set(result.files) == {
        FileToFetch(checkpoint, "models/checkpoints", cache_file_name(checkpoint)),
        FileToFetch(lora, "models/loras", cache_file_name(lora)),
        FileToFetch(image, "input", cache_file_name(image)),
    }
    assert result.main_model == cache_file_name(checkpoint)
    assert result.loras == (cache_file_name(lora),)
    # Neither the posted graph nor the task's params (what GET shows) are changed.
    assert graph["4"]["inputs"]["ckpt_name"] == checkpoint
    assert submission.params["prompt"]["4"]["inputs"]["ckpt_name"] == checkpoint
    assert submission.params["prompt"]["22"]["inputs"]["image"] == {"type": "url", "content": image}


def test_every_clip_input_of_dual_and_triple_loaders_is_fetched():
    graph = {
        "1": {
            "class_type": "TripleCLIPLoader",
            "inputs": {f"clip_name{i}": f"https://e.com/clip{i}.safetensors" for i in (1, 2, 3)},
        },
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["1", 0]}},
        "3": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["4", 0]}},
        "4": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    }
    result = submit(graph).build
    assert {(f.url, f.folder) for f in result.files} == {
        (f"https://e.com/clip{i}.safetensors", "models/clip") for i in (1, 2, 3)
    }


def test_base64_images_are_written_to_input_under_their_content_hash():
    graph = sd15_graph()
    graph["21"] = {"class_type": "LoadImage", "inputs": {"image": {"type": "base64", "content": png_base64()}}}
    result = submit(graph).build
    (inline,) = result.inline_files
    assert inline.folder == "input"
    assert result.graph["21"]["inputs"]["image"] == inline.name


def test_urls_in_other_inputs_and_unknown_nodes_are_left_alone():
    graph = sd15_graph(**{"6": {"text": "https://example.com/not-a-file"}})
    graph["30"] = {"class_type": "SomeCustomLoader", "inputs": {"ckpt_name": "https://e.com/x.safetensors"}}
    result = submit(graph).build
    assert result.files == ()
    assert result.graph["30"]["inputs"]["ckpt_name"] == "https://e.com/x.safetensors"


def test_unknown_class_types_are_accepted_for_nodes_with_custom_nodes():
    graph = sd15_graph()
    graph["30"] = {"class_type": "MyUpscaler", "inputs": {"image": ["8", 0], "factor": 2}}
    graph["31"] = {"class_type": "SaveImage", "inputs": {"images": ["30", 5], "filename_prefix": "x"}}
    assert submit(graph).build.graph["30"]["class_type"] == "MyUpscaler"


def test_a_graph_whose_only_output_may_be_a_custom_node_is_accepted():
    graph = sd15_graph()
    del graph["9"]
    graph["30"] = {"class_type": "WAS_Image_Save", "inputs": {"images": ["8", 0]}}
    submit(graph)


@pytest.mark.parametrize(
    "graph, field, message",
    [
        ([], "params.prompt", "API-format graph"),
        ({}, "params.prompt", "no nodes"),
        ({"nodes": [], "links": []}, "params.prompt", "UI-format"),
        (sd15_graph(**{"3": {"model": ["99", 0]}}), "params.prompt.3.inputs.model", "node '99'"),
        (sd15_graph(**{"3": {"model": ["4", 7]}}), "params.prompt.3.inputs.model", "has 3 outputs"),
        (sd15_graph(**{"3": {"model": ["4", 1]}}), "params.prompt.3.inputs.model", "expects MODEL"),
        (sd15_graph(**{"3": {"model": ["4"]}}), "params.prompt.3.inputs.model", "must be a link"),
        (sd15_graph(**{"4": {"ckpt_name": "ftp://e.com/m.safetensors"}}), "params.prompt.4.inputs.ckpt_name", "http"),
        (
            {**sd15_graph(), "21": {"class_type": "LoadImage", "inputs": {"image": {"type": "base64", "content": "!!"}}}},
            "params.prompt.21.inputs.image",
            "base64",
        ),
        (
            {**sd15_graph(), "21": {"class_type": "LoadImage", "inputs": {"image": {"type": "file", "content": "a"}}}},
            "params.prompt.21.inputs.image",
            "file name or",
        ),
        ({**sd15_graph(), "5": {"inputs": {}}}, "params.prompt.5.class_type", "required"),
        ({**sd15_graph(), "5": {"class_type": "EmptyLatentImage"}}, "params.prompt.5.inputs", "mapping"),
        ({**sd15_graph(), "5": "node"}, "params.prompt.5", "class_type"),
        (
            {**sd15_graph(), "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64}}},
            "params.prompt.5.inputs.batch_size",
            "required",
        ),
        ({k: v for k, v in sd15_graph().items() if k != "9"}, "params.prompt", "no output node"),
    ],
)
def test_it_rejects_a_broken_graph_naming_node_and_input(graph: Any, field: str, message: str):
    errors = field_errors(graph)
    assert field in errors, errors
    assert any(message.lower() in text.lower() for text in errors[field]), errors[field]


def test_a_dependency_cycle_is_rejected():
    graph = sd15_graph()
    graph["30"] = {"class_type": "ImageInvert", "inputs": {"image": ["31", 0]}}
    graph["31"] = {"class_type": "ImageInvert", "inputs": {"image": ["30", 0]}}
    errors = field_errors(graph)
    assert any("cycle" in " ".join(messages) for messages in errors.values()), errors


def test_a_graph_with_too_many_nodes_is_rejected():
    graph = {
        str(i): {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}
        for i in range(limits.MAX_GRAPH_NODES)
    }
    graph["save"] = {"class_type": "SaveImageWebsocket", "inputs": {"images": ["0", 0]}}
    assert "more than 1000 nodes" in field_errors(graph)["params.prompt"][0]


def test_params_other_than_prompt_are_rejected():
    with pytest.raises(ValidationError) as raised:
        submit(SD15_TXT2IMG, extra_data={"preview_method": "auto"})
    assert "params.extra_data" in flatten_errors(raised.value.detail)
