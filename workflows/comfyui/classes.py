"""ComfyUI node classes the router treats specially, wherever it meets them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Their progress is the prompt's progress; a graph with one of them has a seed to report.
SAMPLER_CLASSES = frozenset(
    {"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"}
)
# Their images come over the websocket as binary frames, not through /history and /view.
WEBSOCKET_OUTPUT_CLASSES = frozenset({"SaveImageWebsocket"})


def sends_websocket_images(graph: Mapping[str, Any]) -> bool:
    """Whether some node of the graph sends its images over the websocket."""
    return any(
        isinstance(node, Mapping) and node.get("class_type") in WEBSOCKET_OUTPUT_CLASSES
        for node in graph.values()
    )
