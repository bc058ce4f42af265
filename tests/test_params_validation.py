"""Each invalid POST /workflow body is a ValidationError that names the offending field."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from comfy_router.errors import flatten_errors
from tests.workflow_params import (
    body,
    build_in,
    controlnet,
    custom,
    flux_params,
    image_url,
    lora,
    png_base64,
    sd15_params,
)
from workflows.api.params import validate_submission
from workflows.graphs import limits


def field_errors(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        validate_submission(data)
    return flatten_errors(raised.value.detail)


def truncated_png() -> str:
    return base64.b64encode(base64.b64decode(png_base64(64, 64, (9, 9, 9)))[:-20]).decode()


def sd15(**params: Any) -> dict[str, Any]:
    return body("SD15", sd15_params(**params))


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"params": {}}, "type", "required"),
        ({"type": "SD3", "params": {}}, "type", "not a valid choice"),
        ({"type": "SD15"}, "params", "required"),
        ({"type": "SD15", "params": []}, "params", "dictionary"),
        (body("SD15", {"prompt": "x"}), "params.checkpoint", "required"),
        (sd15(cfg=5), "params.cfg", "Unknown field"),
        (sd15(checkpoint={"type": "http", "name": "x"}), "params.checkpoint.type", "not a valid choice"),
        (sd15(checkpoint=custom("ftp://example.com/m.safetensors")), "params.checkpoint.name", "http"),
        (sd15(checkpoint=custom("https://")), "params.checkpoint.name", "valid URL"),
        (sd15(checkpoint=custom("https://e.com/" + "a" * 2048)), "params.checkpoint.name", "2048"),
        (sd15(checkpoint=build_in("https://e.com/m.safetensors")), "params.checkpoint.name", "custom"),
        (sd15(checkpoint=build_in("../../etc/passwd")), "params.checkpoint.name", "inside the model folder"),
        (sd15(vae={"type": "build_in"}), "params.vae.name", "required"),
        (sd15(width=513), "params.width", "multiple of 8"),
        (sd15(height=8), "params.height", "greater than or equal to 16"),
        (sd15(width=16392), "params.width", "less than or equal to 16384"),
        (sd15(width="wide"), "params.width", "valid integer"),
        (sd15(steps=0), "params.steps", "greater than or equal to 1"),
        (sd15(steps=10001), "params.steps", "less than or equal to 10000"),
        (sd15(cfg_scale=100.5), "params.cfg_scale", "less than or equal to 100"),
        (sd15(cfg_scale=True), "params.cfg_scale", "valid number"),
        (sd15(denoise=1.5), "params.denoise", "less than or equal to 1"),
        (sd15(sampler="euler_magic"), "params.sampler", "not a valid choice"),
        (sd15(scheduler="fast"), "params.scheduler", "not a valid choice"),
        (sd15(seed=-1), "params.seed", "greater than or equal to 0"),
        (sd15(seed=2**64), "params.seed", "less than or equal to"),
        (sd15(batch_size=0), "params.batch_size", "greater than or equal to 1"),
        (sd15(batch_size=limits.MAX_BATCH_SIZE + 1), "params.batch_size", "less than or equal to"),
        (sd15(batch_size=9, width=2048, height=2048), "params.batch_size", "at most"),
        (sd15(prompt="x" * (limits.MAX_PROMPT_LENGTH + 1)), "params.prompt", "no more than"),
        (sd15(prompt="nul\x00"), "params.prompt", "Null characters"),
        (sd15(loras=[lora()] * (limits.MAX_LORAS + 1)), "params.loras", "no more than 10"),
        (sd15(loras=[lora(), lora(weight=101)]), "params.loras[1].weight", "less than or equal to 100"),
        (sd15(loras=[{"model": build_in("a"), "strength": 1}]), "params.loras[0].strength", "Unknown field"),
        (sd15(controlnets=[controlnet()] * 6), "params.controlnets", "no more than 5"),
        (sd15(controlnets=[controlnet(weight=11)]), "params.controlnets[0].weight", "less than or equal to 10"),
        (sd15(controlnets=[controlnet(start_at=-0.1)]), "params.controlnets[0].start_at", "greater than"),
        (sd15(controlnets=[controlnet(start_at=0.6, end_at=0.5)]), "params.controlnets[0].end_at", "before"),
        (sd15(controlnets=[controlnet(resize_mode="Stretch")]), "params.controlnets[0].resize_mode", "choice"),
        (sd15(controlnets=[controlnet(image=None)]), "params.controlnets[0].image", "null"),
        (
            sd15(controlnets=[controlnet(preprocessor="Canny", preprocessor_params={"low_threshold": 2})]),
            "params.controlnets[0].preprocessor_params.low_threshold",
            "bigger than max of 0.99",
        ),
        (
            sd15(controlnets=[controlnet(preprocessor="Canny", preprocessor_params={"radius": 2})]),
            "params.controlnets[0].preprocessor_params.radius",
            "no such input",
        ),
        (
            sd15(controlnets=[controlnet(preprocessor="MyNode", preprocessor_params={"x": [1, 2]})]),
            "params.controlnets[0].preprocessor_params.x",
            "string, number or boolean",
        ),
        (
            sd15(controlnets=[controlnet(preprocessor="EmptyLatentImage")]),
            "params.controlnets[0].preprocessor",
            "image into an image",
        ),
        (sd15(input_mask=image_url("https://e.com/m.png")), "params.input_mask", "needs an input_image"),
        (sd15(input_image=image_url("file:///etc/passwd")), "params.input_image.content", "http"),
        (sd15(input_image={"type": "base64", "content": "not base64!"}), "params.input_image.content", "base64"),
        (
            sd15(input_image={"type": "base64", "content": base64.b64encode(b"plain text").decode()}),
            "params.input_image.content",
            "readable image",
        ),
        (
            sd15(input_image={"type": "base64", "content": truncated_png()}),
            "params.input_image.content",
            "readable image",
        ),
        (sd15(input_image={"type": "base64", "content": 12}), "params.input_image.content", "string"),
        (body("Flux", flux_params(unet_dtype="fp4")), "params.unet_dtype", "not a valid choice"),
        (body("Flux", flux_params(unet_type="pro")), "params.unet_type", "not a valid choice"),
        (body("Flux", flux_params(t5xxl=None)), "params.t5xxl", "null"),
        (sd15(unet=build_in("flux.safetensors")), "params.unet", "Unknown field"),
        ({**sd15(), "webhook": {"url": "gopher://e.com"}}, "webhook.url", "http"),
        ({**sd15(), "callback": "x"}, "callback", "Unknown field"),
    ],
)
def test_it_rejects_the_violation_naming_the_field(data: dict[str, Any], field: str, message: str) -> None:
    errors = field_errors(data)
    assert field in errors, errors
    assert any(message.lower() in text.lower() for text in errors[field]), errors[field]


def test_it_reports_every_bad_field_at_once() -> None:
    errors = field_errors(sd15(width=513, steps=0, loras=[lora(weight=500)]))
    assert {"params.width", "params.steps", "params.loras[0].weight"} <= set(errors)


def test_a_base64_image_larger_than_the_limit_is_rejected(monkeypatch) -> None:
    monkeypatch.setattr("workflows.graphs.builders.images.MAX_INLINE_IMAGE_BYTES", 1000)
    errors = field_errors(sd15(input_image={"type": "base64", "content": png_base64(600, 600, (1, 2, 3)) * 2}))
    assert "larger than 1000 bytes" in errors["params.input_image.content"][0]


def test_an_image_with_too_many_pixels_is_rejected(monkeypatch) -> None:
    monkeypatch.setattr("workflows.graphs.builders.images.MAX_INLINE_IMAGE_PIXELS", 100)
    errors = field_errors(sd15(input_image={"type": "base64", "content": png_base64(11, 10)}))
    assert "more than 100 pixels" in errors["params.input_image.content"][0]


def test_valid_params_come_back_with_defaults_filled_in() -> None:
    submission = validate_submission({**sd15(seed=1), "webhook": {"url": "https://hooks.example.com/done"}})
    assert submission.type == "SD15"
    assert submission.webhook_url == "https://hooks.example.com/done"
    assert submission.params == {
        "checkpoint": build_in("sd15_random.safetensors"),
        "prompt": "a photo of a cat",
        "negative_prompt": "",
        "loras": [],
        "controlnets": [],
        "width": 512,
        "height": 512,
        "batch_size": 1,
        "sampler": "euler",
        "scheduler": "normal",
        "steps": 20,
        "cfg_scale": 7.0,
        "denoise": 1.0,
        "seed": 1,
    }


def test_nulls_for_optional_fields_mean_absent() -> None:
    submission = validate_submission(
        sd15(vae=None, seed=None, input_image=None, input_mask=None, denoise=None, negative_prompt=None)
    )
    assert submission.params["negative_prompt"] == ""
    assert isinstance(submission.params["seed"], int)


def test_a_data_uri_base64_image_is_accepted_and_stored_without_its_prefix() -> None:
    content = png_base64()
    submission = validate_submission(sd15(input_image={"type": "base64", "content": f"data:image/png;base64,{content}"}))
    assert submission.params["input_image"] == {"type": "base64", "content": content}
