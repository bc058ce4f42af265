from __future__ import annotations

import random

from downloads.naming import cache_file_name
from tests.workflow_params import (
    body,
    build_in,
    controlnet,
    custom,
    image_url,
    lora,
    nodes_of,
    only,
    png_base64,
    sd15_params,
)
from workflows.api.params import validate_submission
from workflows.graphs.builders import FileToFetch


def submit(**params):
    return validate_submission(body("SD15", sd15_params(**params)), rng=random.Random(7))


def test_txt2img_is_checkpoint_prompts_empty_latent_sampler_decode_and_websocket_output():
    result = submit(seed=42).build
    classes = sorted(node["class_type"] for node in result.graph.values())
    assert classes == sorted(
        [
            "CheckpointLoaderSimple",
            "CLIPTextEncode",
            "CLIPTextEncode",
            "EmptyLatentImage",
            "KSampler",
            "VAEDecode",
            "SaveImageWebsocket",
        ]
    )
    sampler_id, sampler = only(result.graph, "KSampler")
    output_id, output = only(result.graph, "SaveImageWebsocket")
    assert result.sampler_node == sampler_id
    assert result.output_node == output_id
    assert sampler["seed"] == 42 and result.seed == 42
    assert sampler["denoise"] == 1.0
    assert (sampler["sampler_name"], sampler["scheduler"], sampler["steps"], sampler["cfg"]) == (
        "euler",
        "normal",
        20,
        7.0,
    )
    _, latent = only(result.graph, "EmptyLatentImage")
    assert (latent["width"], latent["height"], latent["batch_size"]) == (512, 512, 1)


def test_it_encodes_prompt_and_negative_prompt_with_the_checkpoints_clip():
    result = submit(prompt="a red fox", negative_prompt="blurry").build
    checkpoint_id, _ = only(result.graph, "CheckpointLoaderSimple")
    encoders = {inputs["text"]: inputs for _, inputs in nodes_of(result.graph, "CLIPTextEncode")}
    assert set(encoders) == {"a red fox", "blurry"}
    assert all(inputs["clip"] == [checkpoint_id, 1] for inputs in encoders.values())
    _, sampler = only(result.graph, "KSampler")
    positive_id = next(i for i, n in result.graph.items() if n["inputs"].get("text") == "a red fox")
    assert sampler["positive"] == [positive_id, 0]


def test_a_separate_vae_replaces_the_checkpoints_vae_everywhere():
    result = submit(
        vae=build_in("better_vae.safetensors"),
        input_image=image_url("https://example.com/in.png"),
        controlnets=[controlnet()],
    ).build
    checkpoint_id, _ = only(result.graph, "CheckpointLoaderSimple")
    vae_id, vae = only(result.graph, "VAELoader")
    assert vae["vae_name"] == "better_vae.safetensors"
    vae_inputs = [node["inputs"]["vae"] for node in result.graph.values() if "vae" in node["inputs"]]
    assert vae_inputs and all(link == [vae_id, 0] for link in vae_inputs)
    assert [checkpoint_id, 2] not in vae_inputs


def test_loras_are_chained_on_model_and_clip_in_order():
    result = submit(loras=[lora("a.safetensors", 0.5), lora("b.safetensors", -1.0)]).build
    checkpoint_id, _ = only(result.graph, "CheckpointLoaderSimple")
    (first_id, first), (second_id, second) = nodes_of(result.graph, "LoraLoader")
    assert (first["lora_name"], first["strength_model"], first["strength_clip"]) == ("a.safetensors", 0.5, 0.5)
    assert first["model"] == [checkpoint_id, 0] and first["clip"] == [checkpoint_id, 1]
    assert second["model"] == [first_id, 0] and second["clip"] == [first_id, 1]
    _, sampler = only(result.graph, "KSampler")
    assert sampler["model"] == [second_id, 0]
    assert all(inputs["clip"] == [second_id, 1] for _, inputs in nodes_of(result.graph, "CLIPTextEncode"))
    assert result.loras == ("a.safetensors", "b.safetensors")


def test_each_controlnet_loads_scales_and_conditions_the_previous_one():
    result = submit(
        width=640,
        height=448,
        controlnets=[controlnet(weight=0.7, start_at=0.1, end_at=0.9), controlnet(resize_mode="Just Resize")],
    ).build
    (first_id, first), (second_id, second) = nodes_of(result.graph, "ControlNetApplyAdvanced")
    assert (first["strength"], first["start_percent"], first["end_percent"]) == (0.7, 0.1, 0.9)
    assert second["positive"] == [first_id, 0] and second["negative"] == [first_id, 1]
    _, sampler = only(result.graph, "KSampler")
    assert sampler["positive"] == [second_id, 0] and sampler["negative"] == [second_id, 1]
    scales = [inputs for _, inputs in nodes_of(result.graph, "ImageScale")]
    assert [(s["width"], s["height"], s["crop"]) for s in scales] == [(640, 448, "center"), (640, 448, "disabled")]
    assert "vae" not in first


def test_a_named_preprocessor_sits_between_the_scaled_hint_and_the_controlnet():
    result = submit(controlnets=[controlnet(preprocessor="Canny", preprocessor_params={"low_threshold": 0.2})]).build
    scale_id, _ = only(result.graph, "ImageScale")
    canny_id, canny = only(result.graph, "Canny")
    assert canny == {"low_threshold": 0.2, "high_threshold": 0.8, "image": [scale_id, 0]}
    _, apply = only(result.graph, "ControlNetApplyAdvanced")
    assert apply["image"] == [canny_id, 0]


def test_a_custom_preprocessor_gets_its_params_and_the_image_as_given():
    result = submit(
        controlnets=[controlnet(preprocessor="DWPreprocessor", preprocessor_params={"detect_hand": "enable"})]
    ).build
    scale_id, _ = only(result.graph, "ImageScale")
    _, node = only(result.graph, "DWPreprocessor")
    assert node == {"detect_hand": "enable", "image": [scale_id, 0]}


def test_img2img_encodes_the_scaled_input_image_with_denoise_075_by_default():
    result = submit(input_image=image_url("https://example.com/in.png"), width=768).build
    _, scale = only(result.graph, "ImageScale")
    assert (scale["width"], scale["height"]) == (768, 512)
    encode_id, encode = only(result.graph, "VAEEncode")
    _, sampler = only(result.graph, "KSampler")
    assert sampler["latent_image"] == [encode_id, 0]
    assert sampler["denoise"] == 0.75
    assert not nodes_of(result.graph, "EmptyLatentImage")
    assert submit(input_image=image_url("https://example.com/in.png"), denoise=0.3).params["denoise"] == 0.3


def test_inpaint_uses_the_mask_with_grow_mask_by_6():
    result = submit(
        input_image=image_url("https://example.com/in.png"), input_mask={"type": "base64", "content": png_base64()}
    ).build
    mask_id, mask = only(result.graph, "LoadImageMask")
    _, encode = only(result.graph, "VAEEncodeForInpaint")
    assert encode["mask"] == [mask_id, 0] and encode["grow_mask_by"] == 6
    assert mask["channel"] == "red"
    assert only(result.graph, "KSampler")[1]["denoise"] == 1.0


def test_img2img_batches_repeat_the_encoded_image():
    result = submit(input_image=image_url("https://example.com/in.png"), batch_size=3).build
    repeat_id, repeat = only(result.graph, "RepeatLatentBatch")
    assert repeat["amount"] == 3
    assert only(result.graph, "KSampler")[1]["latent_image"] == [repeat_id, 0]


def test_urls_become_cached_file_names_and_files_to_fetch():
    checkpoint_url = "https://models.example.com/sd15/model.safetensors?token=abc"
    lora_url = "https://models.example.com/lora.safetensors"
    image = "https://images.example.com/cat.png"
    result = submit(checkpoint=custom(checkpoint_url), loras=[lora()], input_image=image_url(image)).build
    assert only(result.graph, "CheckpointLoaderSimple")[1]["ckpt_name"] == cache_file_name(checkpoint_url)
    assert only(result.graph, "LoadImage")[1]["image"] == cache_file_name(image)
    assert result.main_model == cache_file_name(checkpoint_url)
    assert set(result.files) == {
        FileToFetch(checkpoint_url, "models/checkpoints", cache_file_name(checkpoint_url)),
        FileToFetch(image, "input", cache_file_name(image)),
    }
    result = submit(loras=[{"model": custom(lora_url), "weight": 1}]).build
    assert result.files == (FileToFetch(lora_url, "models/loras", cache_file_name(lora_url)),)


def test_base64_images_become_inline_files_named_by_content():
    content = png_base64(color=(1, 2, 3))
    result = submit(input_image={"type": "base64", "content": "data:image/png;base64," + content}).build
    (inline,) = result.inline_files
    assert inline.folder == "input" and inline.name.endswith(".png") and len(inline.name) == 64 + 4
    assert only(result.graph, "LoadImage")[1]["image"] == inline.name
    assert result.files == ()


def test_the_same_image_used_twice_is_fetched_once():
    url = "https://example.com/same.png"
    result = submit(input_image=image_url(url), controlnets=[controlnet(image=image_url(url))]).build
    assert [f.url for f in result.files] == [url]


def test_a_missing_seed_is_drawn_within_ksamplers_range_and_reported():
    submission = validate_submission(body("SD15", sd15_params()))
    assert 0 <= submission.build.seed <= 2**64 - 1
    assert only(submission.build.graph, "KSampler")[1]["seed"] == submission.build.seed
    assert submission.params["seed"] == submission.build.seed
    seeds = {validate_submission(body("SD15", sd15_params())).build.seed for _ in range(5)}
    assert len(seeds) > 1
