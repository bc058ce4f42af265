"""The project ships its own copy of the recorded ComfyUI schemas; it must match the recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflows.graphs.object_info import OBJECT_INFO_PATH, object_info

RECORDED = Path(__file__).resolve().parents[2] / "shared" / "comfyui" / "object_info.json"


@pytest.mark.skipif(not RECORDED.is_file(), reason="the recorded object_info.json is not next to this checkout")
def test_the_shipped_object_info_is_the_recorded_one():
    assert json.loads(OBJECT_INFO_PATH.read_text()) == json.loads(RECORDED.read_text())


def test_it_holds_the_schemas_of_every_node_the_builders_use():
    used = {
        "CheckpointLoaderSimple", "VAELoader", "LoraLoader", "CLIPTextEncode", "ControlNetLoader", "LoadImage",
        "ImageScale", "ResizeAndPadImage", "ControlNetApplyAdvanced", "EmptyLatentImage", "VAEEncode",
        "LoadImageMask", "VAEEncodeForInpaint", "RepeatLatentBatch", "KSampler", "VAEDecode", "SaveImageWebsocket",
        "UNETLoader", "DualCLIPLoader", "FluxGuidance", "EmptySD3LatentImage",
    }  # fmt: skip
    assert used <= object_info().keys()
