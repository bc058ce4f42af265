"""ComfyUI's routes, included by the project at `/` and at `/api/` (ComfyUI serves both)."""

from __future__ import annotations

from workflows.comfyui_api import files, pool, prompts

urlpatterns = [*prompts.urlpatterns, *files.urlpatterns, *pool.urlpatterns]
