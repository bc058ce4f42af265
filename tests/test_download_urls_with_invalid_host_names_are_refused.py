"""A download URL whose host httpx or the resolver cannot use is a 400 naming the field, in the
predefined workflows' params and in a raw ComfyUI graph, not a task that fails inside the router."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from comfy_router.errors import flatten_errors
from tests.test_graph_validation import SD15_TXT2IMG
from tests.workflow_params import body, custom, sd15_params
from workflows.api.params import validate_submission
from workflows.graphs.urls import url_error

INVALID_HOSTS = [
    "http://a..b/m.safetensors",
    "http://./m.safetensors",
    f"http://{'a' * 64}.example.com/m.safetensors",
    "http://ex\N{GRINNING FACE}.com/m.safetensors",
    "http://999.999.999.999/m.safetensors",
    "http://1.2.3/m.safetensors",
]


def field_errors(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        validate_submission(data)
    return flatten_errors(raised.value.detail)


@pytest.mark.parametrize("url", INVALID_HOSTS)
def test_a_checkpoint_url_with_an_invalid_host_is_refused_naming_the_field(url: str) -> None:
    errors = field_errors(body("SD15", sd15_params(checkpoint=custom(url))))
    assert errors == {"params.checkpoint.name": ["Enter a valid URL."]}


@pytest.mark.parametrize("url", INVALID_HOSTS)
def test_a_load_image_url_with_an_invalid_host_is_refused_naming_the_input(url: str) -> None:
    graph = copy.deepcopy(SD15_TXT2IMG)
    graph["21"] = {"class_type": "LoadImage", "inputs": {"image": url}}
    errors = field_errors({"type": "ComfyUI", "params": {"prompt": graph}})
    assert list(errors) == ["params.prompt.21.inputs.image"]
    assert "valid url" in errors["params.prompt.21.inputs.image"][0].lower()


@pytest.mark.parametrize(
    "url",
    [
        "https://models.example.com/m.safetensors",
        "https://b\N{LATIN SMALL LETTER U WITH DIAERESIS}cher.example/m.safetensors",
        "http://127.0.0.1:8000/m.safetensors",
        "http://[::1]:8000/m.safetensors",
        "http://files_1.lan/m.safetensors",
        "http://host.example./m.safetensors",
    ],
)
def test_urls_with_usable_hosts_are_still_accepted(url: str) -> None:
    assert url_error(url) is None
