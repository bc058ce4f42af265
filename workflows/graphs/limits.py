"""Bounds on what POST /workflow accepts, in one place for the docs.

ComfyUI's own bounds (min/max of steps, cfg, denoise, weights, sizes, seed; the sampler,
scheduler and weight_dtype lists) are read from `workflows/graphs/data/object_info.json`; the
constants below are the router's own, tighter where a single task could otherwise take a node
for hours or the router's memory with it.
"""

from __future__ import annotations

from workflows.graphs.builders.images import (
    MAX_INLINE_IMAGE_BYTES,
    MAX_INLINE_IMAGE_PIXELS,
)

MAX_URL_LENGTH = 2048
URL_SCHEMES = ("http", "https")
MAX_FILE_NAME_LENGTH = 255

MAX_LORAS = 10
MAX_CONTROLNETS = 5
MAX_PROMPT_LENGTH = 10_000

SIZE_MULTIPLE = 8
MAX_BATCH_SIZE = 64  # also RepeatLatentBatch's max, which img2img / inpaint batches go through
MAX_PIXELS_PER_TASK = 8 * 2048 * 2048  # batch_size × width × height

MAX_PREPROCESSOR_NAME_LENGTH = 200
MAX_PREPROCESSOR_PARAMS = 50

MAX_GRAPH_NODES = 1000
# Inputs over all of a graph's nodes: each is checked, so this bounds a submission's work (large
# real graphs have a few thousand).
MAX_GRAPH_INPUTS = 20_000

# GET /workflow paging.
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 200
MAX_LIST_OFFSET = 1_000_000

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "MAX_BATCH_SIZE",
    "MAX_CONTROLNETS",
    "MAX_FILE_NAME_LENGTH",
    "MAX_GRAPH_INPUTS",
    "MAX_GRAPH_NODES",
    "MAX_INLINE_IMAGE_BYTES",
    "MAX_INLINE_IMAGE_PIXELS",
    "MAX_LIST_LIMIT",
    "MAX_LIST_OFFSET",
    "MAX_LORAS",
    "MAX_PIXELS_PER_TASK",
    "MAX_PREPROCESSOR_NAME_LENGTH",
    "MAX_PREPROCESSOR_PARAMS",
    "MAX_PROMPT_LENGTH",
    "MAX_URL_LENGTH",
    "SIZE_MULTIPLE",
    "URL_SCHEMES",
]
