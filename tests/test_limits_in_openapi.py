from __future__ import annotations

import json
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from workflows.graphs import limits


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return dict(json.loads(json.dumps(generated, default=str)))


def field(document: dict[str, Any], component: str, name: str) -> dict[str, Any]:
    return dict(document["components"]["schemas"][component]["properties"][name])


def test_every_operation_with_a_body_documents_the_413(document: dict[str, Any]) -> None:
    with_body = [
        operation
        for operations in document["paths"].values()
        for operation in operations.values()
        if "requestBody" in operation
    ]
    assert with_body
    for operation in with_body:
        assert "MAX_REQUEST_BYTES" in operation["responses"]["413"]["description"]


@pytest.mark.parametrize(
    ("component", "name", "key", "limit"),
    [
        ("SD15ParamsRequest", "prompt", "maxLength", limits.MAX_PROMPT_LENGTH),
        ("SD15ParamsRequest", "negative_prompt", "maxLength", limits.MAX_PROMPT_LENGTH),
        ("SD15ParamsRequest", "batch_size", "maximum", limits.MAX_BATCH_SIZE),
        ("ModelRefRequest", "name", "maxLength", limits.MAX_URL_LENGTH),
        ("WebhookRequest", "url", "maxLength", limits.MAX_URL_LENGTH),
        ("ControlNetRequest", "preprocessor", "maxLength", limits.MAX_PREPROCESSOR_NAME_LENGTH),
        ("NodeAddRequest", "url", "maxLength", 500),
    ],
)
def test_field_limits_are_in_the_schema(
    document: dict[str, Any], component: str, name: str, key: str, limit: int
) -> None:
    assert field(document, component, name)[key] == limit


@pytest.mark.parametrize(
    ("component", "name", "limit"),
    [
        ("SD15ParamsRequest", "loras", limits.MAX_LORAS),
        ("SD15ParamsRequest", "controlnets", limits.MAX_CONTROLNETS),
        ("SD15ParamsRequest", "batch_size", limits.MAX_PIXELS_PER_TASK),
        ("ImageRequest", "content", limits.MAX_INLINE_IMAGE_BYTES),
        ("ImageRequest", "content", limits.MAX_INLINE_IMAGE_PIXELS),
        ("ComfyUIParamsRequest", "prompt", limits.MAX_GRAPH_NODES),
        ("ComfyUIParamsRequest", "prompt", limits.MAX_GRAPH_INPUTS),
        ("ModelRefRequest", "name", limits.MAX_FILE_NAME_LENGTH),
        ("ControlNetRequest", "preprocessor_params", limits.MAX_PREPROCESSOR_PARAMS),
    ],
)
def test_limits_without_a_schema_keyword_are_in_the_field_description(
    document: dict[str, Any], component: str, name: str, limit: int
) -> None:
    assert str(limit) in field(document, component, name)["description"]


def test_the_task_list_documents_its_paging_bounds(document: dict[str, Any]) -> None:
    parameters = {
        parameter["name"]: parameter["schema"]
        for parameter in document["paths"]["/workflow"]["get"]["parameters"]
    }
    assert parameters["limit"]["maximum"] == limits.MAX_LIST_LIMIT
    assert parameters["offset"]["maximum"] == limits.MAX_LIST_OFFSET
    assert "pending" in parameters["status"]["enum"]
