"""One pinned graph per feature, so any change to what the builders emit shows up in review.

After a deliberate change, regenerate with `UPDATE_GOLDEN=1 pytest tests/test_builder_golden_graphs.py`
and read the diff of tests/golden/.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.workflow_params import (
    body,
    build_in,
    controlnet,
    custom,
    flux_params,
    image_url,
    lora,
    png_base64,
    sd15_params,
    sdxl_params,
)
from workflows.api.params import validate_submission

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
SEED = 1234
IMAGE = image_url("https://images.example.com/input.png")
MASK = {"type": "base64", "content": png_base64(8, 8, (255, 255, 255))}
CANNY = controlnet(preprocessor="Canny", preprocessor_params={"low_threshold": 0.3})

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "sd15_txt2img": ("SD15", sd15_params(negative_prompt="blurry")),
    "sd15_custom_checkpoint_and_vae": (
        "SD15",
        sd15_params(
            checkpoint=custom("https://models.example.com/sd15.safetensors"),
            vae=build_in("vae-ft-mse.safetensors"),
        ),
    ),
    "sd15_loras": ("SD15", sd15_params(loras=[lora("a.safetensors", 0.6), lora("b.safetensors", 1.2)])),
    "sd15_img2img": ("SD15", sd15_params(input_image=IMAGE, denoise=0.6, batch_size=2)),
    "sd15_inpaint": ("SD15", sd15_params(input_image=IMAGE, input_mask=MASK)),
    "sd15_controlnet": ("SD15", sd15_params(controlnets=[controlnet(), controlnet(resize_mode="Resize and Fill")])),
    "sd15_controlnet_preprocessor": ("SD15", sd15_params(controlnets=[CANNY])),
    "sdxl_txt2img": ("SDXL", sdxl_params(width=896, height=1152, sampler="dpmpp_2m", scheduler="karras")),
    "flux_dev_txt2img": ("Flux", flux_params()),
    "flux_schnell_txt2img": (
        "Flux",
        flux_params(unet=build_in("flux1-schnell.safetensors"), unet_type="schnell", unet_dtype="fp8_e4m3fn"),
    ),
    "flux_loras_controlnet": ("Flux", flux_params(loras=[lora()], controlnets=[CANNY])),
    "flux_img2img": ("Flux", flux_params(input_image=IMAGE)),
    "flux_inpaint": ("Flux", flux_params(input_image=IMAGE, input_mask=MASK)),
}


def snapshot(workflow_type: str, params: dict[str, Any]) -> dict[str, Any]:
    result = validate_submission(body(workflow_type, {**params, "seed": SEED})).build
    return {
        "graph": result.graph,
        "sampler_node": result.sampler_node,
        "output_node": result.output_node,
        "seed": result.seed,
        "main_model": result.main_model,
        "loras": list(result.loras),
        "files": [dataclasses.asdict(f) for f in result.files],
        "inline_files": [{"folder": f.folder, "name": f.name} for f in result.inline_files],
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_builder_emits_the_pinned_graph(name: str) -> None:
    actual = snapshot(*CASES[name])
    path = GOLDEN_DIR / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
    assert path.exists(), f"{path.name} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert actual == json.loads(path.read_text())
