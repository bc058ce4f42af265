"""Example bodies of `POST /workflow`, one per workflow type, as `/doc` offers them to try.

Models are named by the files ComfyUI's own examples use, so an example runs as given on a node
that has them (`GET /cluster/models` lists what the pool has). The seed is fixed so that trying an
example twice gives the same image.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

SD15_CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
SDXL_CHECKPOINT = "sd_xl_base_1.0.safetensors"
FLUX_UNET = "flux1-schnell.safetensors"
FLUX_VAE = "ae.safetensors"
FLUX_T5XXL = "t5xxl_fp8_e4m3fn.safetensors"
FLUX_CLIP = "clip_l.safetensors"

# The files the examples name, by ComfyUI model folder.
EXAMPLE_MODEL_FILES: dict[str, list[str]] = {
    "checkpoints": [SD15_CHECKPOINT, SDXL_CHECKPOINT],
    "diffusion_models": [FLUX_UNET],
    "vae": [FLUX_VAE],
    "text_encoders": [FLUX_T5XXL, FLUX_CLIP],
}

PROMPT = "a lighthouse on a cliff at sunset, oil painting"
NEGATIVE_PROMPT = "blurry, low quality"
SEED = 42


def _file(name: str) -> dict[str, str]:
    return {"type": "build_in", "name": name}


SD15_BODY: dict[str, Any] = {
    "type": "SD15",
    "params": {
        "checkpoint": _file(SD15_CHECKPOINT),
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE_PROMPT,
        "width": 512,
        "height": 512,
        "steps": 20,
        "cfg_scale": 7.0,
        "sampler": "euler",
        "scheduler": "normal",
        "seed": SEED,
    },
}

SDXL_BODY: dict[str, Any] = {
    "type": "SDXL",
    "params": {
        "checkpoint": _file(SDXL_CHECKPOINT),
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE_PROMPT,
        "width": 1024,
        "height": 1024,
        "steps": 25,
        "cfg_scale": 7.0,
        "seed": SEED,
    },
}

FLUX_BODY: dict[str, Any] = {
    "type": "Flux",
    "params": {
        "unet": _file(FLUX_UNET),
        "unet_type": "schnell",
        "vae": _file(FLUX_VAE),
        "t5xxl": _file(FLUX_T5XXL),
        "clip": _file(FLUX_CLIP),
        "prompt": PROMPT,
        "width": 1024,
        "height": 1024,
        "steps": 4,
        "seed": SEED,
    },
}

COMFYUI_BODY: dict[str, Any] = {
    "type": "ComfyUI",
    "params": {
        "prompt": {
            "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD15_CHECKPOINT}},
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": PROMPT, "clip": ["4", 1]}},
            "7": {
                "class_type": "CLIPTextEncode",
                "inputs": {"text": NEGATIVE_PROMPT, "clip": ["4", 1]},
            },
            "5": {
                "class_type": "EmptyLatentImage",
                "inputs": {"width": 512, "height": 512, "batch_size": 1},
            },
            "3": {
                "class_type": "KSampler",
                "inputs": {
                    "seed": SEED,
                    "steps": 20,
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
            "9": {
                "class_type": "SaveImage",
                "inputs": {"images": ["8", 0], "filename_prefix": "router"},
            },
        }
    },
}

WORKFLOW_EXAMPLES = [
    OpenApiExample(
        "SD15",
        summary="SD1.5: text to image, 512×512",
        value=SD15_BODY,
        request_only=True,
    ),
    OpenApiExample(
        "SDXL",
        summary="SDXL: text to image, 1024×1024",
        value=SDXL_BODY,
        request_only=True,
    ),
    OpenApiExample(
        "Flux",
        summary="Flux schnell: text to image in 4 steps",
        value=FLUX_BODY,
        request_only=True,
    ),
    OpenApiExample(
        "ComfyUI",
        summary="ComfyUI: an API-format graph (SD1.5 text to image)",
        description="Export a graph from ComfyUI with *Save (API Format)* and give it as `prompt`.",
        value=COMFYUI_BODY,
        request_only=True,
    ),
]
