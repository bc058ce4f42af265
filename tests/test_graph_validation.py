"""validate_graph rejects what ComfyUI's validate_prompt rejects, so the builder tests mean something."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.support.graph_validation import validate_graph
from workflows.graphs.object_info import object_info

SD15_TXT2IMG = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "any_file.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 42,
            "steps": 2,
            "cfg": 7.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}},
}


def changed(node_id: str, **inputs: object) -> dict:
    graph = copy.deepcopy(SD15_TXT2IMG)
    for name, value in inputs.items():
        if value is None:
            del graph[node_id]["inputs"][name]
        else:
            graph[node_id]["inputs"][name] = value
    return graph


def test_a_correct_graph_has_no_errors_and_file_name_combos_accept_any_name():
    assert validate_graph(SD15_TXT2IMG, object_info()) == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        (changed("5", width=None), "required input 'width' is missing"),
        (changed("5", width=8), "smaller than min of 16"),
        (changed("3", cfg=100.5), "bigger than max of 100"),
        (changed("3", steps=2.5), "must be an integer"),
        (changed("3", steps="20"), "must be a number"),
        (changed("3", sampler_name="euler_magic"), "'euler_magic' is not one of"),
        (changed("3", model=["4", 1]), "expects MODEL but node '4' output 1 is CLIP"),
        (changed("3", model=["4", 3]), "which has 3 outputs"),
        (changed("3", model=["99", 0]), "node '99', which is not in the graph"),
        (changed("3", model=[4, 0]), "must be a link"),
        (changed("3", model="model.safetensors"), "of type MODEL must be linked"),
        (changed("6", text=12), "must be a string"),
    ],
)
def test_it_names_the_node_and_input_of_each_problem(graph: dict, expected: str):
    errors = validate_graph(graph, object_info())
    assert len(errors) == 1, errors
    assert expected in errors[0]
    assert errors[0].startswith("node ")


def test_an_unknown_class_type_is_rejected_before_anything_else():
    graph = copy.deepcopy(SD15_TXT2IMG)
    graph["10"] = {"class_type": "NoSuchNodeClass", "inputs": {}}
    assert validate_graph(graph, object_info()) == ["node 10: class_type 'NoSuchNodeClass' does not exist"]


def test_a_graph_without_an_output_node_is_rejected():
    graph = copy.deepcopy(SD15_TXT2IMG)
    del graph["9"]
    assert validate_graph(graph, object_info()) == ["the graph has no output node"]


def test_wildcard_inputs_accept_any_link():
    graph = copy.deepcopy(SD15_TXT2IMG)
    graph["10"] = {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}}
    assert validate_graph(graph, object_info()) == []


SHARED = Path(__file__).resolve().parents[2] / "shared" / "comfyui" / "workflows"


@pytest.mark.skipif(not SHARED.is_dir(), reason="the recorded ComfyUI graphs are not next to this checkout")
@pytest.mark.parametrize(
    "name, valid",
    [
        ("sd15_txt2img.json", True),
        ("sdxl_txt2img.json", True),
        ("flux_dummy_txt2img.json", True),
        ("loadimage_symlink_scale_save.json", True),
        ("err_missing_input.json", False),
        ("err_unknown_class.json", False),
    ],
)
def test_it_agrees_with_real_comfyui_on_the_recorded_graphs(name: str, valid: bool):
    graph = json.loads((SHARED / name).read_text())
    assert (validate_graph(graph, object_info()) == []) is valid
