"""SD1.5 and SDXL graphs: one checkpoint holds model, CLIP and VAE; both families share this graph."""

from __future__ import annotations

import random
from typing import Any

from workflows.graphs.builders.base import BuildResult, Graph, choose_seed, link
from workflows.graphs.builders.file_inputs import CHECKPOINTS, VAE
from workflows.graphs.builders.stages import (
    controlnet_chain,
    latent_image,
    lora_chain,
    sample_and_output,
)


def build_sd(params: dict[str, Any], *, rng: random.Random | None = None) -> BuildResult:
    """Build an SD1.5 / SDXL graph from validated params (see workflows.api.params).

    1. CheckpointLoaderSimple, and a VAELoader whose VAE then replaces the checkpoint's everywhere.
    2. LoraLoader per LoRA, chained on model and CLIP.
    3. CLIPTextEncode for prompt and negative prompt, then one ControlNetApplyAdvanced per ControlNet.
    4. Latent (empty / img2img / inpaint), KSampler, VAEDecode, SaveImageWebsocket.
    """
    g = Graph()
    checkpoint_name = g.files.model(params["checkpoint"], CHECKPOINTS)
    checkpoint = g.add("CheckpointLoaderSimple", ckpt_name=checkpoint_name)
    model, clip, vae = link(checkpoint, 0), link(checkpoint, 1), link(checkpoint, 2)
    if params.get("vae"):
        vae = link(g.add("VAELoader", vae_name=g.files.model(params["vae"], VAE)))

    model, clip, lora_names = lora_chain(g, params.get("loras") or [], model, clip)

    positive = link(g.add("CLIPTextEncode", text=params["prompt"], clip=clip))
    negative = link(g.add("CLIPTextEncode", text=params.get("negative_prompt") or "", clip=clip))
    positive, negative = controlnet_chain(
        g, params.get("controlnets") or [], positive, negative, width=params["width"], height=params["height"]
    )

    latent = latent_image(g, params, vae, empty_latent_class="EmptyLatentImage")
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
        cfg=params["cfg_scale"],
    )
    return g.result(
        sampler_node=sampler, output_node=output, seed=seed, main_model=checkpoint_name, loras=lora_names
    )
