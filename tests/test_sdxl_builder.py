from __future__ import annotations

import random

from tests.workflow_params import body, lora, only, sdxl_params
from workflows.api.params import validate_submission


def submit(**params):
    return validate_submission(body("SDXL", sdxl_params(**params)), rng=random.Random(3))


def test_sdxl_defaults_to_1024_square_and_25_steps():
    result = submit().build
    _, latent = only(result.graph, "EmptyLatentImage")
    assert (latent["width"], latent["height"]) == (1024, 1024)
    _, sampler = only(result.graph, "KSampler")
    assert (sampler["steps"], sampler["sampler_name"], sampler["scheduler"]) == (25, "euler", "normal")


def test_sdxl_loads_its_checkpoint_and_reports_it_as_the_main_model():
    result = submit(loras=[lora("xl_style.safetensors")]).build
    _, checkpoint = only(result.graph, "CheckpointLoaderSimple")
    assert checkpoint["ckpt_name"] == "sdxl_random.safetensors"
    assert result.main_model == "sdxl_random.safetensors"
    assert result.loras == ("xl_style.safetensors",)
