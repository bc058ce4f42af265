"""Submissions are validated by one serializer per workflow type and thread, used again for every
body: each body comes out exactly as it does on a thread that never validated anything, whatever
came before it, and threads never share a serializer."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rest_framework import serializers

from tests.support.cluster import comfyui_body, tiny_graph
from tests.workflow_params import (
    body,
    build_in,
    flux_params,
    lora,
    sd15_params,
    sdxl_params,
)
from workflows.api.params import validate_submission

BODIES: list[Any] = [
    body("SD15", sd15_params()),
    body("SD15", sd15_params(width=513, steps=0)),  # invalid: two fields
    body("SD15", sd15_params(loras=[lora(), lora("b.safetensors", 1.2)], seed=5)),
    body("SD15", sd15_params(loras=[lora(weight=500)])),  # invalid, in a nested list
    body("SDXL", sdxl_params(width=1024, height=768)),
    body("SDXL", sdxl_params(checkpoint=None)),  # invalid
    body("Flux", flux_params(unet_type="schnell")),
    body("Flux", flux_params(unet_dtype="fp4")),  # invalid
    {**body("SD15", sd15_params()), "webhook": {"url": "https://example.com/hook"}},
    {**body("SD15", sd15_params()), "webhook": {"url": "gopher://example.com"}},  # invalid
    body("SD15", {**sd15_params(), "cfg": 7}),  # invalid: unknown field
    comfyui_body(tiny_graph(3)),
    body("ComfyUI", {"prompt": {"1": {"inputs": {}}}}),  # invalid: no class_type
    body("SD15", {"checkpoint": build_in("other.safetensors"), "prompt": "a dog"}),
    body("Pony", {}),  # invalid: no such type
    ["not", "an", "object"],  # invalid
]


def outcome(data: Any) -> tuple[Any, ...]:
    try:
        result = validate_submission(data, rng=random.Random(7))
    except serializers.ValidationError as error:
        return ("invalid", error.detail)
    return ("valid", result.type, result.params, result.webhook_url, result.build.graph)


def on_a_new_thread(work: Callable[[], Any]) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def first_outcomes() -> list[tuple[Any, ...]]:
    """Each body validated on a thread of its own, its first validation."""
    return [on_a_new_thread(lambda data=data: outcome(data)) for data in BODIES]


def test_each_body_comes_out_as_on_a_fresh_thread_whatever_came_before() -> None:
    expected = first_outcomes()
    assert sum(result[0] == "valid" for result in expected) == 7
    order = list(range(len(BODIES))) * 3
    random.Random(1).shuffle(order)

    def in_turn() -> list[tuple[Any, ...]]:
        return [outcome(BODIES[index]) for index in order]

    assert on_a_new_thread(in_turn) == [expected[index] for index in order]


def test_threads_validating_at_once_each_get_every_body_right() -> None:
    expected = first_outcomes()

    def many(seed: int) -> bool:
        picks = random.Random(seed).choices(range(len(BODIES)), k=60)
        return all(outcome(BODIES[index]) == expected[index] for index in picks)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(many, range(16)))
