"""Every graph a builder can emit passes ComfyUI 0.8.0's own checks (as validate_graph applies them)."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from downloads.naming import link_name
from tests.support.graph_validation import validate_graph
from tests.workflow_params import (
    body,
    build_in,
    custom,
    flux_params,
    png_base64,
    sd15_params,
    sdxl_params,
)
from workflows.api.params import validate_submission
from workflows.graphs.object_info import combo, object_info

PARAMS = {"SD15": sd15_params, "SDXL": sdxl_params, "Flux": flux_params}
SMALL_PNG = png_base64(16, 16, (10, 200, 30))

urls = st.builds(
    "https://{}.example.com/{}{}".format,
    st.sampled_from(["models", "cdn"]),
    st.text("abcdef0123456789", min_size=1, max_size=8),
    st.sampled_from([".safetensors", ".png", ".bin", ""]),
)
models = st.one_of(st.builds(build_in, st.sampled_from(["a.safetensors", "sub/b.ckpt"])), st.builds(custom, urls))
images = st.one_of(
    st.builds(lambda url: {"type": "url", "content": url}, urls),
    st.just({"type": "base64", "content": SMALL_PNG}),
)
loras = st.fixed_dictionaries(
    {"model": models, "weight": st.floats(-100, 100, allow_nan=False)},
)


@st.composite
def controlnets(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.floats(0, 1))
    controlnet: dict[str, Any] = {
        "model": draw(models),
        "image": draw(images),
        "weight": draw(st.floats(0, 10)),
        "start_at": start,
        "end_at": draw(st.floats(start, 1)),
        "resize_mode": draw(st.sampled_from(["Just Resize", "Crop and Resize", "Resize and Fill"])),
    }
    preprocessor = draw(st.sampled_from([None, "Canny", "ImageInvert"]))
    if preprocessor == "Canny":
        controlnet["preprocessor_params"] = draw(
            st.fixed_dictionaries({}, optional={"low_threshold": st.floats(0.01, 0.99)})
        )
    if preprocessor is not None:
        controlnet["preprocessor"] = preprocessor
    return controlnet


# DRF rejects NUL and lone surrogates in strings (test_params_validation covers that).
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
sizes = st.integers(2, 256).map(lambda n: n * 8)


@st.composite
def family_params(draw: st.DrawFn, workflow_type: str) -> dict[str, Any]:
    params = PARAMS[workflow_type](
        loras=draw(st.lists(loras, max_size=3)),
        controlnets=draw(st.lists(controlnets(), max_size=2)),
        width=draw(sizes),
        height=draw(sizes),
        batch_size=draw(st.integers(1, 4)),
        sampler=draw(st.sampled_from(combo("KSampler", "sampler_name"))),
        scheduler=draw(st.sampled_from(combo("KSampler", "scheduler"))),
        steps=draw(st.integers(1, 10000)),
        cfg_scale=draw(st.floats(0, 100)),
        negative_prompt=draw(texts),
        prompt=draw(texts),
    )
    if draw(st.booleans()):
        params["seed"] = draw(st.integers(0, 2**64 - 1))
    mode = draw(st.sampled_from(["txt2img", "img2img", "inpaint"]))
    if mode != "txt2img":
        params["input_image"] = draw(images)
        if draw(st.booleans()):
            params["denoise"] = draw(st.floats(0, 1))
    if mode == "inpaint":
        params["input_mask"] = draw(images)
    if workflow_type == "Flux":
        params["unet"] = draw(models)
        params["unet_type"] = draw(st.sampled_from(["dev", "schnell"]))
        params["unet_dtype"] = draw(st.sampled_from(combo("UNETLoader", "weight_dtype")))
    elif draw(st.booleans()):
        params["vae"] = draw(models)
    return params


def assert_graph_is_valid(workflow_type: str, params: dict[str, Any]) -> None:
    submission = validate_submission(body(workflow_type, params), rng=random.Random(0))
    result = submission.build
    assert validate_graph(result.graph, object_info()) == []
    assert result.graph[result.sampler_node]["class_type"] == "KSampler"
    assert result.graph[result.output_node]["class_type"] == "SaveImageWebsocket"
    json.dumps(result.graph)  # the graph goes over the wire as JSON
    posted_urls = _urls_in(params)
    assert {f.url for f in result.files} == posted_urls
    assert all(f.name == link_name(f.url, f.folder) for f in result.files)
    graph_values = {v for node in result.graph.values() for v in node["inputs"].values() if isinstance(v, str)}
    assert {f.name for f in result.files} | {f.name for f in result.inline_files} <= graph_values
    texts = {params["prompt"], params.get("negative_prompt")}
    assert not any(v.startswith(("http://", "https://")) for v in graph_values - texts)


def _urls_in(params: Any) -> set[str]:
    if isinstance(params, dict):
        if params.get("type") == "custom":
            return {params["name"]}
        if params.get("type") == "url":
            return {params["content"]}
        return set().union(*(_urls_in(v) for k, v in params.items() if k not in ("prompt", "negative_prompt")))
    if isinstance(params, list):
        return set().union(*(_urls_in(v) for v in params))
    return set()


hypothesis_settings = settings(
    derandomize=True, max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize("workflow_type", ["SD15", "SDXL", "Flux"])
def test_generated_params_always_build_a_graph_comfyui_accepts(workflow_type: str) -> None:
    @hypothesis_settings
    @given(family_params(workflow_type))
    def check(params: dict[str, Any]) -> None:
        assert_graph_is_valid(workflow_type, params)

    check()


CONTROLNET_VARIANTS = {
    "none": [],
    "plain": [{"model": build_in("cn.safetensors"), "image": {"type": "url", "content": "https://e.com/h.png"}}],
    "preprocessed": [
        {
            "model": build_in("cn.safetensors"),
            "image": {"type": "base64", "content": SMALL_PNG},
            "preprocessor": "Canny",
        }
    ],
}
LORA_VARIANTS = {"none": [], "two": [{"model": build_in("a.safetensors"), "weight": 1.0}] * 2}
MODES = {
    "txt2img": {},
    "img2img": {"input_image": {"type": "url", "content": "https://e.com/in.png"}},
    "inpaint": {
        "input_image": {"type": "url", "content": "https://e.com/in.png"},
        "input_mask": {"type": "base64", "content": SMALL_PNG},
    },
}


@pytest.mark.parametrize(
    "workflow_type, mode, vae, lora_variant, controlnet_variant",
    [
        combination
        for combination in itertools.product(PARAMS, MODES, [False, True], LORA_VARIANTS, CONTROLNET_VARIANTS)
        if not (combination[0] == "Flux" and combination[2])  # Flux always loads its own VAE
    ],
)
def test_every_feature_combination_builds_a_valid_graph(
    workflow_type: str, mode: str, vae: bool, lora_variant: str, controlnet_variant: str
) -> None:
    params = PARAMS[workflow_type](
        loras=LORA_VARIANTS[lora_variant], controlnets=CONTROLNET_VARIANTS[controlnet_variant], **MODES[mode]
    )
    if vae:
        params["vae"] = custom("https://e.com/vae.safetensors")
    assert_graph_is_valid(workflow_type, params)
