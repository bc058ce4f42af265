"""Small API-format graphs for tests, shaped like the recorded workflows."""

from __future__ import annotations

from typing import Any


def empty_to_websocket(
    width: int = 64, height: int = 64, batch_size: int = 1, color: int = 0
) -> dict[str, Any]:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": width, "height": height, "batch_size": batch_size, "color": color},
        },
        "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
    }


def empty_to_save(
    prefix: str = "fake", width: int = 64, height: int = 64, batch_size: int = 1, color: int = 0
) -> dict[str, Any]:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": width, "height": height, "batch_size": batch_size, "color": color},
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}},
    }


def sd15_txt2img(
    seed: int = 42,
    steps: int = 2,
    width: int = 64,
    height: int = 64,
    ckpt_name: str = "sd15_random.safetensors",
    save: str = "SaveImage",
) -> dict[str, Any]:
    """The recorded SD1.5 txt2img graph; `save` may be SaveImage or SaveImageWebsocket."""
    save_inputs: dict[str, Any] = {"images": ["8", 0]}
    if save == "SaveImage":
        save_inputs["filename_prefix"] = "sd15_random"
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "6": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "a photo of a cat", "clip": ["4", 1]},
        },
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": width, "height": height, "batch_size": 1},
        },
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": steps,
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
        "9": {"class_type": save, "inputs": save_inputs},
    }
