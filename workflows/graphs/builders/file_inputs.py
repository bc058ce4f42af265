"""Which inputs of ComfyUI's core nodes name a file, and the folder (under ComfyUI's root) it lives in.

Used to rewrite URLs in arbitrary graphs into cached file names, and by graph validation to
treat these combos as "any file of that folder".
"""

from __future__ import annotations

CHECKPOINTS = "models/checkpoints"
VAE = "models/vae"
LORAS = "models/loras"
CONTROLNET = "models/controlnet"
UNET = "models/unet"
CLIP = "models/clip"
INPUT = "input"

FILE_INPUT_FOLDERS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): CHECKPOINTS,
    ("CheckpointLoader", "ckpt_name"): CHECKPOINTS,
    ("CheckpointLoader", "config_name"): "models/configs",
    ("unCLIPCheckpointLoader", "ckpt_name"): CHECKPOINTS,
    ("ImageOnlyCheckpointLoader", "ckpt_name"): CHECKPOINTS,
    ("CreateHookModelAsLora", "ckpt_name"): CHECKPOINTS,
    ("CreateHookModelAsLoraModelOnly", "ckpt_name"): CHECKPOINTS,
    ("VAELoader", "vae_name"): VAE,
    ("LoraLoader", "lora_name"): LORAS,
    ("LoraLoaderModelOnly", "lora_name"): LORAS,
    ("CreateHookLora", "lora_name"): LORAS,
    ("CreateHookLoraModelOnly", "lora_name"): LORAS,
    ("UNETLoader", "unet_name"): UNET,
    ("CLIPLoader", "clip_name"): CLIP,
    ("DualCLIPLoader", "clip_name1"): CLIP,
    ("DualCLIPLoader", "clip_name2"): CLIP,
    ("TripleCLIPLoader", "clip_name1"): CLIP,
    ("TripleCLIPLoader", "clip_name2"): CLIP,
    ("TripleCLIPLoader", "clip_name3"): CLIP,
    ("QuadrupleCLIPLoader", "clip_name1"): CLIP,
    ("QuadrupleCLIPLoader", "clip_name2"): CLIP,
    ("QuadrupleCLIPLoader", "clip_name3"): CLIP,
    ("QuadrupleCLIPLoader", "clip_name4"): CLIP,
    ("ControlNetLoader", "control_net_name"): CONTROLNET,
    ("DiffControlNetLoader", "control_net_name"): CONTROLNET,
    ("CLIPVisionLoader", "clip_name"): "models/clip_vision",
    ("StyleModelLoader", "style_model_name"): "models/style_models",
    ("GLIGENLoader", "gligen_name"): "models/gligen",
    ("HypernetworkLoader", "hypernetwork_name"): "models/hypernetworks",
    ("UpscaleModelLoader", "model_name"): "models/upscale_models",
    ("LatentUpscaleModelLoader", "model_name"): "models/latent_upscale_models",
    ("PhotoMakerLoader", "photomaker_model_name"): "models/photomaker",
    ("ModelPatchLoader", "name"): "models/model_patches",
    ("LoadImage", "image"): INPUT,
    ("LoadImageMask", "image"): INPUT,
    ("LoadVideo", "file"): INPUT,
}

# Inputs that may also be given as an inline `{"type": "base64", "content": ...}` image.
IMAGE_INPUTS = frozenset({("LoadImage", "image"), ("LoadImageMask", "image")})

# Where a graph's main model and LoRAs are named, for model-affinity scheduling.
MAIN_MODEL_INPUTS = (
    ("CheckpointLoaderSimple", "ckpt_name"),
    ("CheckpointLoader", "ckpt_name"),
    ("UNETLoader", "unet_name"),
)
LORA_INPUTS = (("LoraLoader", "lora_name"), ("LoraLoaderModelOnly", "lora_name"))
