"""The fake ComfyUI's routes that never touch the queue: files, node schemas, system stats."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from . import schema

SERVER_FEATURES = {
    "supports_preview_metadata": True,
    "max_upload_size": 104857600,
    "extension": {"manager": {"supports_v4": True}},
}
MODEL_FOLDERS = (
    "checkpoints",
    "configs",
    "loras",
    "vae",
    "text_encoders",
    "diffusion_models",
    "clip_vision",
    "style_models",
    "embeddings",
    "diffusers",
    "vae_approx",
    "controlnet",
    "gligen",
    "upscale_models",
    "latent_upscale_models",
    "custom_nodes",
    "hypernetworks",
    "photomaker",
    "classifiers",
    "model_patches",
    "audio_encoders",
)


def system_stats_body() -> dict[str, Any]:
    return {
        "system": {
            "os": "linux",
            "ram_total": 25276063744,
            "ram_free": 22919528448,
            "comfyui_version": "0.8.0",
            "required_frontend_version": "1.35.9",
            "installed_templates_version": "0.7.67",
            "required_templates_version": "0.7.67",
            "python_version": "3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]",  # sys.version
            "pytorch_version": "2.14.1+cpu",
            "embedded_python": False,
            "argv": ["main.py", "--cpu"],
        },
        "devices": [
            {
                "name": "cpu",
                "type": "cpu",
                "index": None,
                "vram_total": 25276063744,
                "vram_free": 22919528448,
                "torch_vram_total": 25276063744,
                "torch_vram_free": 22919528448,
            }
        ],
    }


class StaticRoutes:
    """Mixed into FakeComfyUI: serves root_dir's files and what ComfyUI says about itself."""

    root_dir: Path
    system_stats_status: int | None
    missing_classes: frozenset[str]

    def _static_routes(self, prefix: str) -> list[web.RouteDef]:
        return [
            web.get(prefix + "/view", self.view),
            web.post(prefix + "/upload/image", self.upload_image),
            web.get(prefix + "/system_stats", self.system_stats),
            web.get(prefix + "/object_info", self.object_info),
            web.get(prefix + "/object_info/{node_class}", self.object_info_node),
            web.get(prefix + "/features", self.features),
            web.get(prefix + "/embeddings", self.embeddings),
            web.get(prefix + "/extensions", self.embeddings),
            web.get(prefix + "/models", self.models),
            web.get(prefix + "/models/{folder}", self.models_folder),
        ]

    async def view(self, request: web.Request) -> web.StreamResponse:
        filename = request.query.get("filename")
        if filename is None:
            return web.Response(status=404)
        folder_type = request.query.get("type", "output")
        if filename.endswith("]") and " [" in filename:
            filename, _, folder_type = filename[:-1].rpartition(" [")
        if not filename or filename.startswith("/") or ".." in filename:
            return web.Response(status=400)
        if folder_type not in ("output", "input", "temp"):
            return web.Response(status=400)
        base = (self.root_dir / folder_type).resolve()
        folder = (base / request.query.get("subfolder", "")).resolve()
        if folder != base and base not in folder.parents:
            return web.Response(status=403)
        path = folder / Path(filename).name
        if not path.is_file():
            return web.Response(status=404)
        headers = {"Content-Disposition": f'filename="{path.name}"'}
        rate = getattr(self, "view_rate", None)
        if rate is None:
            return web.FileResponse(path, headers=headers)
        return await self._drip(request, path.read_bytes(), rate, headers)

    async def _drip(
        self, request: web.Request, data: bytes, rate: float, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Not ComfyUI: a slow link, `rate` bytes a second (the `view_rate` knob)."""
        response = web.StreamResponse(headers=headers)
        response.content_length = len(data)
        await response.prepare(request)
        chunk = max(1, int(rate / 10))
        for start in range(0, len(data), chunk):
            await response.write(data[start : start + chunk])
            await asyncio.sleep(chunk / rate)
        await response.write_eof()
        return response

    async def upload_image(self, request: web.Request) -> web.Response:
        form = await request.post()
        image = form.get("image")
        if not isinstance(image, web.FileField):
            return web.Response(status=400)
        folder_type = str(form.get("type", "input")) or "input"
        subfolder = str(form.get("subfolder", ""))
        overwrite = str(form.get("overwrite", "")).lower() in ("true", "1")
        base = (self.root_dir / folder_type).resolve()
        folder = (base / subfolder).resolve()
        if folder != base and base not in folder.parents:
            return web.Response(status=400)
        folder.mkdir(parents=True, exist_ok=True)
        data = image.file.read()
        name = Path(image.filename or "image.png").name
        stem, suffix = Path(name).stem, Path(name).suffix
        counter = 1
        while not overwrite and (folder / name).exists():
            if (
                hashlib.sha256((folder / name).read_bytes()).digest()
                == hashlib.sha256(data).digest()
            ):
                break
            name = f"{stem} ({counter}){suffix}"
            counter += 1
        (folder / name).write_bytes(data)
        return web.json_response({"name": name, "subfolder": subfolder, "type": folder_type})

    async def system_stats(self, request: web.Request) -> web.Response:
        if self.system_stats_status not in (None, 200):
            return web.Response(status=self.system_stats_status, text="fake failure")
        return web.json_response(system_stats_body())

    async def object_info(self, request: web.Request) -> web.Response:
        info = schema.object_info()
        if self.missing_classes:
            info = {name: spec for name, spec in info.items() if name not in self.missing_classes}
        return web.json_response(info)

    async def object_info_node(self, request: web.Request) -> web.Response:
        name = request.match_info["node_class"]
        info = None if name in self.missing_classes else schema.object_info().get(name)
        return web.json_response({name: info} if info is not None else {})

    async def features(self, request: web.Request) -> web.Response:
        return web.json_response(SERVER_FEATURES)

    async def embeddings(self, request: web.Request) -> web.Response:
        return web.json_response([])

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(list(MODEL_FOLDERS))

    async def models_folder(self, request: web.Request) -> web.Response:
        folder = request.match_info["folder"]
        if folder not in MODEL_FOLDERS:
            return web.Response(status=404)
        return web.json_response(schema.model_files(self.root_dir, folder))


def internal_error() -> web.Response:
    return web.Response(
        status=500, text="500 Internal Server Error\n\nServer got itself in trouble"
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
