"""Every bound of POST /workflow at its edge: the limit is accepted, one past it is refused with
a message that names the field and the limit."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image
from rest_framework.exceptions import ValidationError

from comfy_router.errors import flatten_errors
from tests.workflow_params import body, build_in, controlnet, custom, lora, sd15_params
from workflows.api.params import validate_submission
from workflows.graphs import limits
from workflows.graphs.object_info import number_limits

URL_PREFIX = "https://models.example/"


def errors_of(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        validate_submission(data)
    return flatten_errors(refused.value.detail)


def assert_refused(data: dict[str, Any], field: str, limit: int) -> None:
    errors = errors_of(data)
    assert field in errors, errors
    assert str(limit) in " ".join(errors[field]), errors


def sd15(**overrides: Any) -> dict[str, Any]:
    return body("SD15", sd15_params(**overrides))


def url_of_length(length: int) -> str:
    return URL_PREFIX + "m" * (length - len(URL_PREFIX))


def png_of_size(size: int) -> str:
    """A real PNG padded after its end chunk to exactly `size` bytes, base64-encoded."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    data = buffer.getvalue()
    return base64.b64encode(data + b"\0" * (size - len(data))).decode()


def png_of_pixels(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def image_graph(nodes: int) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}
    }
    for index in range(2, nodes + 1):
        graph[str(index)] = {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}}
    return graph


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_a_prompt_may_be_as_long_as_the_limit(field: str) -> None:
    validate_submission(sd15(**{field: "a" * limits.MAX_PROMPT_LENGTH}))


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_a_prompt_one_character_too_long_is_refused(field: str) -> None:
    data = sd15(**{field: "a" * (limits.MAX_PROMPT_LENGTH + 1)})
    assert_refused(data, f"params.{field}", limits.MAX_PROMPT_LENGTH)


def test_the_most_loras_are_accepted_and_one_more_is_refused() -> None:
    validate_submission(sd15(loras=[lora(f"l{i}.safetensors") for i in range(limits.MAX_LORAS)]))
    too_many = [lora(f"l{i}.safetensors") for i in range(limits.MAX_LORAS + 1)]
    assert_refused(sd15(loras=too_many), "params.loras", limits.MAX_LORAS)


def test_the_most_controlnets_are_accepted_and_one_more_is_refused() -> None:
    validate_submission(sd15(controlnets=[controlnet()] * limits.MAX_CONTROLNETS))
    too_many = [controlnet()] * (limits.MAX_CONTROLNETS + 1)
    assert_refused(sd15(controlnets=too_many), "params.controlnets", limits.MAX_CONTROLNETS)


def test_batch_size_times_width_times_height_may_reach_the_pixel_limit() -> None:
    side = 2048
    batch = limits.MAX_PIXELS_PER_TASK // (side * side)
    validate_submission(sd15(batch_size=batch, width=side, height=side))


def test_the_next_size_past_the_pixel_limit_is_refused_naming_the_product() -> None:
    side = 2048
    batch = limits.MAX_PIXELS_PER_TASK // (side * side)
    data = sd15(batch_size=batch, width=side, height=side + limits.SIZE_MULTIPLE)
    assert_refused(data, "params.batch_size", limits.MAX_PIXELS_PER_TASK)
    assert "batch_size × width × height" in errors_of(data)["params.batch_size"][0]


def test_the_batch_size_limit_is_accepted_and_one_more_is_refused() -> None:
    validate_submission(sd15(batch_size=limits.MAX_BATCH_SIZE, width=64, height=64))
    data = sd15(batch_size=limits.MAX_BATCH_SIZE + 1, width=64, height=64)
    assert_refused(data, "params.batch_size", limits.MAX_BATCH_SIZE)


def test_the_widest_image_comfyui_allows_is_the_limit() -> None:
    _, widest = number_limits("EmptyLatentImage", "width")
    assert widest is not None
    validate_submission(sd15(width=int(widest), height=16))
    assert_refused(sd15(width=int(widest) + 8, height=16), "params.width", int(widest))


def test_a_model_url_may_be_as_long_as_the_limit_and_no_longer() -> None:
    validate_submission(sd15(checkpoint=custom(url_of_length(limits.MAX_URL_LENGTH))))
    data = sd15(checkpoint=custom(url_of_length(limits.MAX_URL_LENGTH + 1)))
    assert_refused(data, "params.checkpoint.name", limits.MAX_URL_LENGTH)


def test_an_image_url_may_be_as_long_as_the_limit_and_no_longer() -> None:
    image = {"type": "url", "content": url_of_length(limits.MAX_URL_LENGTH)}
    validate_submission(sd15(input_image=image))
    image["content"] = url_of_length(limits.MAX_URL_LENGTH + 1)
    assert_refused(sd15(input_image=image), "params.input_image.content", limits.MAX_URL_LENGTH)


def test_a_webhook_url_may_be_as_long_as_the_limit_and_no_longer() -> None:
    validate_submission({**sd15(), "webhook": {"url": url_of_length(limits.MAX_URL_LENGTH)}})
    data = {**sd15(), "webhook": {"url": url_of_length(limits.MAX_URL_LENGTH + 1)}}
    assert_refused(data, "webhook.url", limits.MAX_URL_LENGTH)


def test_a_graph_url_may_be_as_long_as_the_limit_and_no_longer() -> None:
    def graph(url: str) -> dict[str, Any]:
        nodes = image_graph(2)
        nodes["3"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": url}}
        return body("ComfyUI", {"prompt": nodes})

    validate_submission(graph(url_of_length(limits.MAX_URL_LENGTH)))
    assert_refused(
        graph(url_of_length(limits.MAX_URL_LENGTH + 1)),
        "params.prompt.3.inputs.ckpt_name",
        limits.MAX_URL_LENGTH,
    )


def test_a_file_name_may_be_as_long_as_the_limit_and_no_longer() -> None:
    name = "m" * (limits.MAX_FILE_NAME_LENGTH - len(".safetensors")) + ".safetensors"
    validate_submission(sd15(checkpoint=build_in(name)))
    assert_refused(
        sd15(checkpoint=build_in("m" + name)), "params.checkpoint.name", limits.MAX_FILE_NAME_LENGTH
    )


def test_an_inline_image_may_be_as_large_as_the_limit() -> None:
    image = {"type": "base64", "content": png_of_size(limits.MAX_INLINE_IMAGE_BYTES)}
    validate_submission(sd15(input_image=image))


def test_an_inline_image_one_byte_over_the_limit_is_refused() -> None:
    image = {"type": "base64", "content": png_of_size(limits.MAX_INLINE_IMAGE_BYTES + 1)}
    data = sd15(input_image=image)
    assert_refused(data, "params.input_image.content", limits.MAX_INLINE_IMAGE_BYTES)


def test_an_inline_image_may_have_as_many_pixels_as_the_limit_and_no_more() -> None:
    side = 8192
    assert side * side == limits.MAX_INLINE_IMAGE_PIXELS
    validate_submission(sd15(input_image={"type": "base64", "content": png_of_pixels(side, side)}))
    image = {"type": "base64", "content": png_of_pixels(side, side + 1)}
    assert_refused(sd15(input_image=image), "params.input_image.content", limits.MAX_INLINE_IMAGE_PIXELS)


def test_a_graph_may_have_as_many_nodes_as_the_limit() -> None:
    validate_submission(body("ComfyUI", {"prompt": image_graph(limits.MAX_GRAPH_NODES)}))


def test_a_graph_with_one_node_too_many_is_refused() -> None:
    data = body("ComfyUI", {"prompt": image_graph(limits.MAX_GRAPH_NODES + 1)})
    assert_refused(data, "params.prompt", limits.MAX_GRAPH_NODES)


def graph_with_inputs(count: int) -> dict[str, Any]:
    """An image and a custom node with the rest of `count` inputs, all plain values."""
    graph = image_graph(2)
    graph["3"] = {"class_type": "MyNode", "inputs": {f"x{i}": i for i in range(count - 5)}}
    return graph


def test_a_graph_may_have_as_many_inputs_in_all_as_the_limit_and_no_more() -> None:
    validate_submission(body("ComfyUI", {"prompt": graph_with_inputs(limits.MAX_GRAPH_INPUTS)}))
    data = body("ComfyUI", {"prompt": graph_with_inputs(limits.MAX_GRAPH_INPUTS + 1)})
    assert_refused(data, "params.prompt", limits.MAX_GRAPH_INPUTS)


def test_preprocessor_params_may_number_the_limit_and_no_more() -> None:
    def with_params(count: int) -> dict[str, Any]:
        params = {f"p{i}": i for i in range(count)}
        return sd15(controlnets=[controlnet(preprocessor="MyPreprocessor", preprocessor_params=params)])

    validate_submission(with_params(limits.MAX_PREPROCESSOR_PARAMS))
    assert_refused(
        with_params(limits.MAX_PREPROCESSOR_PARAMS + 1),
        "params.controlnets[0].preprocessor_params",
        limits.MAX_PREPROCESSOR_PARAMS,
    )


def test_a_preprocessor_name_may_be_as_long_as_the_limit_and_no_longer() -> None:
    def named(length: int) -> dict[str, Any]:
        return sd15(controlnets=[controlnet(preprocessor="P" * length)])

    validate_submission(named(limits.MAX_PREPROCESSOR_NAME_LENGTH))
    assert_refused(
        named(limits.MAX_PREPROCESSOR_NAME_LENGTH + 1),
        "params.controlnets[0].preprocessor",
        limits.MAX_PREPROCESSOR_NAME_LENGTH,
    )
