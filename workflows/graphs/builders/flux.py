"""Flux graphs: separate diffusion model, text encoders (T5-XXL + CLIP-L) and VAE."""

from __future__ import annotations

import random
from typing import Any

from workflows.graphs.builders.base import BuildResult, Graph, choose_seed, link
from workflows.graphs.builders.file_inputs import CLIP, UNET, VAE
from workflows.graphs.builders.stages import (
    controlnet_chain,
    latent_image,
    lora_chain,
    sample_and_output,
)

# Flux is distilled: classifier-free guidance stays off and `cfg_scale` becomes FluxGuidance (dev only).
FLUX_KSAMPLER_CFG = 1.0


def build_flux(params: dict[str, Any], *, rng: random.Random | None = None) -> BuildResult:
    """Build a Flux graph from validated params (see workflows.api.params).

    1. UNETLoader (weight_dtype = unet_dtype), DualCLIPLoader (type flux), VAELoader.
    2. LoraLoader chain; CLIPTextEncode ×2; FluxGuidance on the positive prompt for `dev`.
    3. ControlNetApplyAdvanced per ControlNet, given the VAE as Flux ControlNets need it.
    4. Latent (EmptySD3LatentImage / img2img / inpaint), KSampler at cfg 1.0, VAEDecode, SaveImageWebsocket.
    """
    g = Graph()
    unet_name = g.files.model(params["unet"], UNET)
    model = link(g.add("UNETLoader", unet_name=unet_name, weight_dtype=params["unet_dtype"]))
    clip = link(
        g.add(
            "DualCLIPLoader",
            clip_name1=g.files.model(params["t5xxl"], CLIP),
            clip_name2=g.files.model(params["clip"], CLIP),
            type="flux",
        )
    )
    vae = link(g.add("VAELoader", vae_name=g.files.model(params["vae"], VAE)))

    model, clip, lora_names = lora_chain(g, params.get("loras") or [], model, clip)

    positive = link(g.add("CLIPTextEncode", text=params["prompt"], clip=clip))
    negative = link(g.add("CLIPTextEncode", text=params.get("negative_prompt") or "", clip=clip))
    if params["unet_type"] == "dev":
        positive = link(g.add("FluxGuidance", conditioning=positive, guidance=params["cfg_scale"]))
    positive, negative = controlnet_chain(
        g,
        params.get("controlnets") or [],
        positive,
        negative,
        width=params["width"],
        height=params["height"],
        vae=vae,
    )

    latent = latent_image(g, params, vae, empty_latent_class="EmptySD3LatentImage")
    seed = choose_seed(params.get("seed"), rng)
    sampler, output = sample_and_output(
        g,
        params,
        model=model,
        positive=positive,
        negative=negative,
        latent=latent,
        vae=vae,
        seed=seed,
        cfg=FLUX_KSAMPLER_CFG,
    )
    return g.result(
        sampler_node=sampler, output_node=output, seed=seed, main_model=unet_name, loras=lora_names
    )
