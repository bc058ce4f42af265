"""ComfyUI lists only model files with a known extension (.safetensors, .ckpt, .pt, .bin, .pth, .sft):
a cached name without it can never be loaded by a loader node."""

from __future__ import annotations

from tests.workflow_params import body, custom, sd15_params
from workflows.api.params import validate_submission


def test_a_custom_safetensors_checkpoint_keeps_its_extension():
    params = sd15_params(checkpoint=custom("https://models.example.com/model.safetensors"))
    result = validate_submission(body("SD15", params)).build
    assert result.main_model.endswith(".safetensors")
