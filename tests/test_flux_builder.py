from __future__ import annotations

import random

from tests.workflow_params import (
    body,
    build_in,
    controlnet,
    flux_params,
    image_url,
    lora,
    nodes_of,
    only,
    png_base64,
)
from workflows.api.params import validate_submission


def submit(**params):
    return validate_submission(body("Flux", flux_params(**params)), rng=random.Random(5))


def test_flux_loads_unet_with_its_dtype_dual_clip_for_flux_and_a_vae():
    result = submit(unet_dtype="fp8_e4m3fn").build
    _, unet = only(result.graph, "UNETLoader")
    assert unet == {"unet_name": "flux1-dev.safetensors", "weight_dtype": "fp8_e4m3fn"}
    _, clip = only(result.graph, "DualCLIPLoader")
    assert clip == {"clip_name1": "t5xxl_fp8_e4m3fn.safetensors", "clip_name2": "clip_l.safetensors", "type": "flux"}
    vae_id, vae = only(result.graph, "VAELoader")
    assert vae == {"vae_name": "ae.safetensors"}
    assert only(result.graph, "VAEDecode")[1]["vae"] == [vae_id, 0]
    assert result.main_model == "flux1-dev.safetensors"
    assert not nodes_of(result.graph, "CheckpointLoaderSimple")


def test_dev_guides_the_positive_prompt_with_cfg_scale_and_samples_at_cfg_1():
    result = submit(cfg_scale=4.5).build
    guidance_id, guidance = only(result.graph, "FluxGuidance")
    assert guidance["guidance"] == 4.5
    _, sampler = only(result.graph, "KSampler")
    assert sampler["positive"] == [guidance_id, 0]
    assert sampler["cfg"] == 1.0
    assert (sampler["steps"], sampler["scheduler"]) == (20, "simple")


def test_schnell_has_no_guidance_node_and_defaults_to_4_steps():
    result = submit(unet_type="schnell", unet=build_in("flux1-schnell.safetensors")).build
    assert not nodes_of(result.graph, "FluxGuidance")
    _, sampler = only(result.graph, "KSampler")
    assert (sampler["steps"], sampler["cfg"]) == (4, 1.0)


def test_txt2img_uses_an_sd3_latent_of_1024_square_by_default():
    result = submit(batch_size=2).build
    _, latent = only(result.graph, "EmptySD3LatentImage")
    assert latent == {"width": 1024, "height": 1024, "batch_size": 2}
    assert not nodes_of(result.graph, "EmptyLatentImage")


def test_flux_controlnets_get_the_vae():
    result = submit(controlnets=[controlnet(), controlnet()]).build
    vae_id, _ = only(result.graph, "VAELoader")
    applies = nodes_of(result.graph, "ControlNetApplyAdvanced")
    assert len(applies) == 2 and all(inputs["vae"] == [vae_id, 0] for _, inputs in applies)
    guidance_id, _ = only(result.graph, "FluxGuidance")
    assert applies[0][1]["positive"] == [guidance_id, 0]


def test_flux_loras_chain_on_the_unet_and_the_dual_clip():
    result = submit(loras=[lora("flux_lora.safetensors")]).build
    unet_id, _ = only(result.graph, "UNETLoader")
    clip_id, _ = only(result.graph, "DualCLIPLoader")
    lora_id, inputs = only(result.graph, "LoraLoader")
    assert inputs["model"] == [unet_id, 0] and inputs["clip"] == [clip_id, 0]
    assert only(result.graph, "KSampler")[1]["model"] == [lora_id, 0]


def test_flux_img2img_and_inpaint_encode_with_the_flux_vae():
    img2img = submit(input_image=image_url("https://example.com/in.png")).build
    vae_id, _ = only(img2img.graph, "VAELoader")
    assert only(img2img.graph, "VAEEncode")[1]["vae"] == [vae_id, 0]
    assert only(img2img.graph, "KSampler")[1]["denoise"] == 0.75
    inpaint = submit(
        input_image=image_url("https://example.com/in.png"), input_mask={"type": "base64", "content": png_base64()}
    ).build
    vae_id, _ = only(inpaint.graph, "VAELoader")
    _, encode = only(inpaint.graph, "VAEEncodeForInpaint")
    assert encode["vae"] == [vae_id, 0] and encode["grow_mask_by"] == 6
