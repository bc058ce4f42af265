"""The pool as one ComfyUI 0.8.0 sees it, in ComfyUI's own shapes: `/object_info`, `/models`,
`/embeddings`, `/system_stats` and `/features`.

Everything comes from what the pool's nodes (enabled, answering their health checks:
`nodes.selectors.pool_nodes`) last reported, never from asking a node during a request. The
pool's `/object_info` is the union of the nodes' classes, each combo list the union of theirs
(a client sees every model file some node has); it is merged once per set of stored answers
and kept here as JSON, so a request costs one small query.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from nodes.models import Node
from nodes.selectors import (
    object_info_bodies,
    pool_model_files_version,
    pool_model_folders,
    pool_nodes,
    pool_object_info_digests,
)
from workflows.comfyui_api.upload_parser import MAX_UPLOAD_BYTES
from workflows.graphs.object_info import object_info as bundled_object_info

T = TypeVar("T")
JSON = "application/json; charset=utf-8"  # as ComfyUI labels its answers
# The ComfyUI whose API the router speaks: `/system_stats` says it while no node says its own.
COMFYUI_VERSION = "0.8.0"
# Where Linux says how much memory is available (free plus what the kernel can reclaim), the
# figure ComfyUI reports as `ram_free`.
MEMINFO = Path("/proc/meminfo")


# --- /object_info ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectInfoJSON:
    """The pool's `/object_info` as JSON: each class's description, and the whole answer."""

    classes: dict[str, bytes]
    whole: bytes
    # Descriptions parsed for the checks of `POST /prompt`, each once for this version of the
    # pool (read only: shared by every request that checks against this version).
    _parsed: dict[str, dict[str, Any] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def parsed(self, class_type: str) -> dict[str, Any] | None:
        """The class's description, parsed; None for a class no node of the pool has."""
        if class_type not in self._parsed:
            described = self.classes.get(class_type)
            self._parsed[class_type] = None if described is None else json.loads(described)
        return self._parsed[class_type]


def merge_object_infos(answers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The union of the answers' classes. A class several answers have is described as the
    first describes it, with each combo input's choices the union of theirs. Modifies the
    answers' class descriptions in place."""
    merged: dict[str, Any] = {}
    for answer in answers:
        for name, info in answer.items():
            if not isinstance(info, dict):
                continue
            if name in merged:
                _merge_combos(merged[name], info)
            else:
                merged[name] = info
    return merged


def _merge_combos(into: dict[str, Any], other: dict[str, Any]) -> None:
    for section in ("required", "optional"):
        ours, theirs = _inputs(into, section), _inputs(other, section)
        for input_name, spec in ours.items():
            options = _combo_options(spec)
            more = _combo_options(theirs.get(input_name))
            if options is not None and more is not None:
                _set_combo_options(spec, _union(options, more))


def _inputs(info: dict[str, Any], section: str) -> dict[str, Any]:
    inputs = info.get("input")
    found = inputs.get(section) if isinstance(inputs, dict) else None
    return found if isinstance(found, dict) else {}


def _combo_options(spec: Any) -> list[Any] | None:
    """A combo input's choices, in either of ComfyUI's forms: `[[choices], {...}]`, or
    `["COMBO", {"options": [choices], ...}]`; None for any other input."""
    if not isinstance(spec, list) or not spec:
        return None
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        options = spec[1].get("options")
        return options if isinstance(options, list) else None
    return None


def _set_combo_options(spec: list[Any], options: list[Any]) -> None:
    if isinstance(spec[0], list):
        spec[0] = options
    else:
        spec[1]["options"] = options


def _union(ours: list[Any], theirs: list[Any]) -> list[Any]:
    """Ours, then the choices only theirs has; sorted if both were, as ComfyUI sorts file
    lists. Choices that are not all names are left as ours."""
    if not all(isinstance(option, str) for option in chain(ours, theirs)):
        return ours
    known = set(ours)
    new = [option for option in dict.fromkeys(theirs) if option not in known]
    if not new:
        return ours
    union = ours + new
    return sorted(union) if _is_sorted(ours) and _is_sorted(theirs) else union


def _is_sorted(options: list[str]) -> bool:
    return all(a <= b for a, b in zip(options, options[1:]))


def _as_json(merged: dict[str, Any]) -> ObjectInfoJSON:
    classes = {name: json.dumps(info).encode() for name, info in merged.items()}
    items = (json.dumps(name).encode() + b": " + info for name, info in classes.items())
    return ObjectInfoJSON(classes=classes, whole=b"{" + b", ".join(items) + b"}")


class VersionedCopy(Generic[T]):
    """This process's copy of something built from the database, built again when its version
    (read with one small query per request) changes. One request builds; those arriving
    meanwhile wait for its result rather than each building their own."""

    def __init__(
        self, version: Callable[[], Hashable], build: Callable[[Any], tuple[T, bool]]
    ) -> None:
        self._version, self._build = version, build
        self._lock = threading.Lock()
        self._kept: tuple[Hashable, T] | None = None
        self._confirmed = -math.inf  # monotonic time the kept version was last read

    def current(self, max_age: float = 0.0) -> T:
        """The value for the version now; `max_age`: or the one kept, if its version was read
        within that many seconds (no query at all)."""
        kept = self._kept
        if kept is not None and time.monotonic() - self._confirmed < max_age:
            return kept[1]
        version = self._version()
        with self._lock:
            if self._kept is not None and self._kept[0] == version:
                self._confirmed = time.monotonic()
                return self._kept[1]
            value, whole = self._build(version)
            if whole:  # else built from less than the version says: built again next time
                self._kept, self._confirmed = (version, value), time.monotonic()
            return value


def _merge_stored(digests: tuple[str, ...]) -> tuple[ObjectInfoJSON, bool]:
    bodies = object_info_bodies(digests)
    answers = (_parsed(bodies[digest]) for digest in digests if digest in bodies)
    merged = merge_object_infos(answer for answer in answers if isinstance(answer, dict))
    return _as_json(merged), len(bodies) == len(digests)  # one may have been dropped meanwhile


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # checked when the node sent it: only a row damaged since
        return None


# The answers are stored content-addressed, so the set of their digests is the exact version of
# the pool's `/object_info`: no node's change goes unnoticed, a node that says the same again
# costs no merge, and nodes of one installation are merged as one. The model files are
# versioned by which nodes are in the pool and when what each can run last changed.
object_infos = VersionedCopy(
    version=lambda: tuple(pool_object_info_digests()),
    build=_merge_stored,
)


class PoolClasses:
    """The classes as the pool describes them, for one request's checks. `max_age`: a copy
    whose version was read that long ago will do (see `VersionedCopy`)."""

    def __init__(self, max_age: float = 0.0) -> None:
        self._described = object_infos.current(max_age)

    def info(self, class_type: str) -> dict[str, Any] | None:
        """The class's `/object_info` description; None when no node of the pool has it (or
        has said what it has)."""
        return self._described.parsed(class_type)

    def is_output(self, class_type: str) -> bool:
        """An output node, as the pool says or, for a class it does not describe, ComfyUI's
        own core classes."""
        info = self.info(class_type) or bundled_object_info().get(class_type) or {}
        return bool(info.get("output_node"))


model_folders_kept = VersionedCopy(
    version=pool_model_files_version,
    build=lambda version: (pool_model_folders(), True),
)


# --- /system_stats and /features ------------------------------------------------------------


def system_stats_body() -> dict[str, Any]:
    """ComfyUI's `/system_stats` for the pool: the router's own machine and Python under
    `system`, with the versions of ComfyUI and its dependencies most of the pool's nodes
    report; under `devices`, each node's device, named after the node."""
    nodes = list(pool_nodes().only("pk", "name", "system_stats"))
    systems = [_section(node.system_stats, "system") for node in nodes]

    def most_common(key: str, default: str = "") -> str:
        said = Counter(s[key] for s in systems if isinstance(s.get(key), str) and s[key])
        return said.most_common(1)[0][0] if said else default

    ram_total, ram_free = _memory()
    return {
        "system": {
            "os": sys.platform,
            "ram_total": ram_total,
            "ram_free": ram_free,
            "comfyui_version": most_common("comfyui_version", COMFYUI_VERSION),
            "required_frontend_version": most_common("required_frontend_version"),
            "installed_templates_version": most_common("installed_templates_version"),
            "required_templates_version": most_common("required_templates_version"),
            "python_version": sys.version,
            "pytorch_version": most_common("pytorch_version"),
            "embedded_python": False,
            "argv": list(sys.argv),
        },
        "devices": [_device(node) for node in nodes],
    }


def _section(stats: Any, key: str) -> dict[str, Any]:
    found = stats.get(key) if isinstance(stats, dict) else None
    return found if isinstance(found, dict) else {}


def _device(node: Node) -> dict[str, Any]:
    """The node's (first) device in ComfyUI's shape, its name prefixed with the node's name or
    id. Not its URL: a client with an API key may read this, and the pool's addresses are the
    operator's (`/cluster/` refuses keys)."""
    devices = node.system_stats.get("devices") if isinstance(node.system_stats, dict) else None
    first = devices[0] if isinstance(devices, list) and devices else None
    device = first if isinstance(first, dict) else {}
    node_name = node.name or f"node {node.pk}"
    return {
        "name": f"{node_name}: {device.get('name') or 'unknown device'}",
        "type": str(device.get("type") or ""),
        "index": _integer(device.get("index")),
        **{
            key: _integer(device.get(key)) or 0
            for key in ("vram_total", "vram_free", "torch_vram_total", "torch_vram_free")
        },
    }


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _memory() -> tuple[int, int]:
    """The router machine's memory in bytes: total, and available (0 where unknown)."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total, free = page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # not a POSIX system that says
        return 0, 0
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return total, int(line.split()[1]) * 1024  # stated in KiB
    except (OSError, ValueError, IndexError):
        pass
    return total, free


def server_features() -> dict[str, Any]:
    """ComfyUI's feature flags for the router: previews carry their metadata, and the largest
    image `/upload/image` takes (within a request body's limit, as its form comes in one)."""
    return {
        "supports_preview_metadata": True,
        "max_upload_size": min(MAX_UPLOAD_BYTES, settings.ROUTER.max_request_bytes),
    }


# --- views ----------------------------------------------------------------------------------


def _json(data: Any) -> HttpResponse:
    return _json_bytes(json.dumps(data).encode())


def _json_bytes(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type=JSON)


@csrf_exempt
@require_safe
def object_info(request: HttpRequest) -> HttpResponse:
    return _json_bytes(object_infos.current().whole)


@csrf_exempt
@require_safe
def object_info_class(request: HttpRequest, node_class: str) -> HttpResponse:
    """One class as `{name: description}`; `{}` for a class no node has, as ComfyUI answers."""
    info = object_infos.current().classes.get(node_class)
    if info is None:
        return _json({})
    return _json_bytes(b"{" + json.dumps(node_class).encode() + b": " + info + b"}")


@csrf_exempt
@require_safe
def model_folders(request: HttpRequest) -> HttpResponse:
    return _json(list(model_folders_kept.current()))


@csrf_exempt
@require_safe
def model_folder(request: HttpRequest, folder: str) -> HttpResponse:
    """The folder's files on any of the pool's nodes; a folder none has is a 404, as ComfyUI
    answers one it does not know."""
    files = model_folders_kept.current().get(folder)
    if files is None:
        return HttpResponse(status=404)
    return _json(files)


@csrf_exempt
@require_safe
def embeddings(request: HttpRequest) -> HttpResponse:
    """The embeddings' names without their extension, as ComfyUI lists them for prompts."""
    files = model_folders_kept.current().get("embeddings", [])
    return _json([posixpath.splitext(name)[0] for name in files])


@csrf_exempt
@require_safe
def system_stats(request: HttpRequest) -> HttpResponse:
    return _json(system_stats_body())


@csrf_exempt
@require_safe
def features(request: HttpRequest) -> HttpResponse:
    return _json(server_features())


urlpatterns: list[URLPattern] = [
    path("object_info", object_info, name="object-info"),
    path("object_info/<str:node_class>", object_info_class, name="object-info-class"),
    path("models", model_folders, name="models"),
    path("models/<str:folder>", model_folder, name="model-folder"),
    path("embeddings", embeddings, name="embeddings"),
    path("system_stats", system_stats, name="system-stats"),
    path("features", features, name="features"),
]
