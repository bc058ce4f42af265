"""Graph pieces every predefined family shares: LoRA chain, ControlNets, the latent, sampling and output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workflows.graphs.builders.base import Graph, Link, link
from workflows.graphs.builders.file_inputs import CONTROLNET, INPUT, LORAS
from workflows.graphs.object_info import object_info, output_types, spec_type

RESIZE_JUST_RESIZE = "Just Resize"
RESIZE_CROP_AND_RESIZE = "Crop and Resize"
RESIZE_AND_FILL = "Resize and Fill"
RESIZE_MODES = (RESIZE_JUST_RESIZE, RESIZE_CROP_AND_RESIZE, RESIZE_AND_FILL)

IMG2IMG_DEFAULT_DENOISE = 0.75
INPAINT_DEFAULT_DENOISE = 1.0
INPAINT_GROW_MASK_BY = 6
# White marks the area to repaint in a black-and-white mask; red reads that from RGB and greyscale alike.
INPAINT_MASK_CHANNEL = "red"
UPSCALE_METHOD = "lanczos"


def effective_denoise(params: dict[str, Any]) -> float:
    """txt2img always denoises fully; img2img defaults to 0.75 and inpaint to 1.0 unless given."""
    if not params.get("input_image"):
        return 1.0
    if params.get("denoise") is not None:
        return float(params["denoise"])
    return INPAINT_DEFAULT_DENOISE if params.get("input_mask") else IMG2IMG_DEFAULT_DENOISE


def preprocessor_ports(class_type: str) -> tuple[str, int]:
    """(name of the IMAGE input, index of the first IMAGE output) of a preprocessor node.

    Custom preprocessors (not in our object_info) follow the common convention: `image` in, output 0.
    """
    node = object_info().get(class_type)
    if node is None:
        return "image", 0
    input_name = "image"
    for section in ("required", "optional"):
        for name, spec in (node.get("input", {}).get(section) or {}).items():
            if spec_type(list(spec)) == "IMAGE":
                input_name = name
                break
        else:
            continue
        break
    outputs = output_types(class_type) or []
    output_index = outputs.index("IMAGE") if "IMAGE" in outputs else 0
    return input_name, output_index


def lora_chain(
    g: Graph, loras: Sequence[dict[str, Any]], model: Link, clip: Link
) -> tuple[Link, Link, tuple[str, ...]]:
    names: list[str] = []
    for lora in loras:
        name = g.files.model(lora["model"], LORAS)
        names.append(name)
        node = g.add(
            "LoraLoader",
            model=model,
            clip=clip,
            lora_name=name,
            strength_model=lora["weight"],
            strength_clip=lora["weight"],
        )
        model, clip = link(node, 0), link(node, 1)
    return model, clip, tuple(names)


def resized_image(g: Graph, image: Link, width: int, height: int, resize_mode: str) -> Link:
    if resize_mode == RESIZE_AND_FILL:
        node = g.add(
            "ResizeAndPadImage",
            image=image,
            target_width=width,
            target_height=height,
            padding_color="black",
            interpolation=UPSCALE_METHOD,
        )
    else:
        crop = "center" if resize_mode == RESIZE_CROP_AND_RESIZE else "disabled"
        node = g.add(
            "ImageScale", image=image, upscale_method=UPSCALE_METHOD, width=width, height=height, crop=crop
        )
    return link(node)


def controlnet_chain(
    g: Graph,
    controlnets: Sequence[dict[str, Any]],
    positive: Link,
    negative: Link,
    *,
    width: int,
    height: int,
    vae: Link | None = None,
) -> tuple[Link, Link]:
    """Load, resize and optionally preprocess each hint image; each ControlNet conditions the next."""
    for controlnet in controlnets:
        loader = g.add("ControlNetLoader", control_net_name=g.files.model(controlnet["model"], CONTROLNET))
        image = link(g.add("LoadImage", image=g.files.image(controlnet["image"], INPUT)))
        image = resized_image(g, image, width, height, controlnet["resize_mode"])
        if controlnet.get("preprocessor"):
            input_name, output_index = preprocessor_ports(controlnet["preprocessor"])
            inputs = dict(controlnet.get("preprocessor_params") or {})
            inputs[input_name] = image
            image = link(g.add(controlnet["preprocessor"], **inputs), output_index)
        apply_inputs: dict[str, Any] = {
            "positive": positive,
            "negative": negative,
            "control_net": link(loader),
            "image": image,
            "strength": controlnet["weight"],
            "start_percent": controlnet["start_at"],
            "end_percent": controlnet["end_at"],
        }
        if vae is not None:
            apply_inputs["vae"] = vae
        node = g.add("ControlNetApplyAdvanced", **apply_inputs)
        positive, negative = link(node, 0), link(node, 1)
    return positive, negative


def latent_image(g: Graph, params: dict[str, Any], vae: Link, *, empty_latent_class: str) -> Link:
    """txt2img: an empty latent; img2img: the encoded input image; inpaint: encoded with its mask."""
    width, height, batch_size = params["width"], params["height"], params["batch_size"]
    if not params.get("input_image"):
        return link(g.add(empty_latent_class, width=width, height=height, batch_size=batch_size))
    pixels = link(g.add("LoadImage", image=g.files.image(params["input_image"], INPUT)))
    # Stretch rather than crop, so the mask (scaled to the pixels by VAEEncodeForInpaint) stays aligned.
    pixels = resized_image(g, pixels, width, height, RESIZE_JUST_RESIZE)
    if params.get("input_mask"):
        mask = g.add(
            "LoadImageMask", image=g.files.image(params["input_mask"], INPUT), channel=INPAINT_MASK_CHANNEL
        )
        latent = g.add(
            "VAEEncodeForInpaint", pixels=pixels, vae=vae, mask=link(mask), grow_mask_by=INPAINT_GROW_MASK_BY
        )
    else:
        latent = g.add("VAEEncode", pixels=pixels, vae=vae)
    if batch_size > 1:
        latent = g.add("RepeatLatentBatch", samples=link(latent), amount=batch_size)
    return link(latent)


def sample_and_output(
    g: Graph,
    params: dict[str, Any],
    *,
    model: Link,
    positive: Link,
    negative: Link,
    latent: Link,
    vae: Link,
    seed: int,
    cfg: float,
) -> tuple[str, str]:
    """KSampler → VAEDecode → SaveImageWebsocket; returns (sampler node, output node)."""
    sampler = g.add(
        "KSampler",
        model=model,
        seed=seed,
        steps=params["steps"],
        cfg=cfg,
        sampler_name=params["sampler"],
        scheduler=params["scheduler"],
        positive=positive,
        negative=negative,
        latent_image=latent,
        denoise=effective_denoise(params),
    )
    decoded = g.add("VAEDecode", samples=link(sampler), vae=vae)
    output = g.add("SaveImageWebsocket", images=link(decoded))
    return sampler, output
