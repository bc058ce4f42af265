"""ComfyUI's own HTTP and websocket API, served over the whole pool: an existing ComfyUI client
pointed at the router works unchanged, and its prompts spread over the nodes.

`prompts` (POST /prompt, /queue, /interrupt, /history), `consumers` (WS /ws), `files`
(/upload/image, /upload/mask, /view) and `pool` (/object_info, /models, /embeddings,
/system_stats, /features) each hold their routes; `urls` gathers them, served at both `/X`
and `/api/X` as ComfyUI serves them.
"""
