"""What a builder returns, and a small helper that numbers nodes and collects the files they need."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from downloads.naming import link_name
from workflows.graphs.builders.images import decode_base64_image
from workflows.graphs.object_info import number_limits

Link = list[Any]  # [node_id, output_index], as ComfyUI's API format writes it


@dataclass(frozen=True)
class FileToFetch:
    url: str
    folder: str
    name: str


@dataclass(frozen=True)
class InlineFile:
    folder: str
    name: str
    data: bytes


@dataclass(frozen=True)
class BuildResult:
    graph: dict[str, Any]
    sampler_node: str | None
    output_node: str | None
    files: tuple[FileToFetch, ...]
    inline_files: tuple[InlineFile, ...]
    seed: int | None
    main_model: str | None
    loras: tuple[str, ...]


@dataclass
class FileCollector:
    """Turns Model / Image params into the names a graph uses, remembering what must be on disk."""

    files: dict[tuple[str, str], FileToFetch] = field(default_factory=dict)
    inline_files: dict[tuple[str, str], InlineFile] = field(default_factory=dict)

    def url(self, url: str, folder: str) -> str:
        name = link_name(url, folder)
        self.files.setdefault((url, folder), FileToFetch(url=url, folder=folder, name=name))
        return name

    def base64_image(self, content: str, folder: str) -> str:
        image = decode_base64_image(content, verify=False)  # verified when the params were validated
        name = image.file_name
        self.inline_files.setdefault((folder, name), InlineFile(folder=folder, name=name, data=image.data))
        return name

    def model(self, model: dict[str, Any], folder: str) -> str:
        """A Model `{"type": "build_in" | "custom", "name"}`: a file the node has, or a URL to fetch."""
        if model["type"] == "custom":
            return self.url(model["name"], folder)
        return str(model["name"])

    def image(self, image: dict[str, Any], folder: str = "input") -> str:
        """An Image `{"type": "url" | "base64", "content"}`, written to `input/` under a stable name."""
        if image["type"] == "base64":
            return self.base64_image(image["content"], folder)
        return self.url(image["content"], folder)


@dataclass
class Graph:
    """An API-format graph under construction; node ids are "1", "2", … in the order added."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: FileCollector = field(default_factory=FileCollector)

    def add(self, class_type: str, **inputs: Any) -> str:
        node_id = str(len(self.nodes) + 1)
        self.nodes[node_id] = {"class_type": class_type, "inputs": inputs}
        return node_id

    def result(
        self,
        *,
        sampler_node: str | None,
        output_node: str | None,
        seed: int | None,
        main_model: str | None,
        loras: tuple[str, ...] = (),
    ) -> BuildResult:
        return BuildResult(
            graph=self.nodes,
            sampler_node=sampler_node,
            output_node=output_node,
            files=tuple(self.files.files.values()),
            inline_files=tuple(self.files.inline_files.values()),
            seed=seed,
            main_model=main_model,
            loras=loras,
        )


def link(node_id: str, output_index: int = 0) -> Link:
    return [node_id, output_index]


def choose_seed(seed: int | None, rng: random.Random | None = None) -> int:
    """The given seed, or a random one within KSampler's range."""
    if seed is not None:
        return seed
    _, high = number_limits("KSampler", "seed")
    upper = int(high) if high is not None else 2**64 - 1
    if rng is not None:
        return rng.randint(0, upper)
    return secrets.randbelow(upper + 1)
