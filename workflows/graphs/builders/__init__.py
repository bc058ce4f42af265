"""Graph builders: validated workflow params in, a ComfyUI API-format graph and the files it needs out.

Pure functions, no I/O: `build("SD15", params)` is all the rest of the router calls.
"""

from __future__ import annotations

import random
from typing import Any

from workflows.graphs.builders.base import BuildResult, FileToFetch, InlineFile
from workflows.graphs.builders.comfyui import build_comfyui
from workflows.graphs.builders.flux import build_flux
from workflows.graphs.builders.sd import build_sd

WORKFLOW_TYPES = ("SD15", "SDXL", "Flux", "ComfyUI")


def build(workflow_type: str, params: dict[str, Any], *, rng: random.Random | None = None) -> BuildResult:
    """Build the graph of a validated workflow; `rng` draws the seed when params give none."""
    if workflow_type in ("SD15", "SDXL"):
        return build_sd(params, rng=rng)
    if workflow_type == "Flux":
        return build_flux(params, rng=rng)
    if workflow_type == "ComfyUI":
        return build_comfyui(params)
    raise ValueError(f"Unknown workflow type {workflow_type!r}")


__all__ = ["WORKFLOW_TYPES", "BuildResult", "FileToFetch", "InlineFile", "build"]
