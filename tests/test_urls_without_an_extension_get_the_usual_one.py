"""ComfyUI lists only files it can load (models by extension, input images by type): a URL without
such an extension, like civitai's `/api/download/models/123`, is linked under a name that has one,
and the graph uses that name."""

from __future__ import annotations

from downloads.naming import cache_file_name, link_name
from tests.workflow_params import body, custom, image_url, sd15_params
from workflows.api.params import validate_submission

CIVITAI = "https://civitai.com/api/download/models/128713?type=Model&format=SafeTensor"


def test_a_checkpoint_url_without_extension_is_linked_as_safetensors() -> None:
    build = validate_submission(body("SD15", sd15_params(checkpoint=custom(CIVITAI)))).build
    [fetched] = build.files
    assert fetched.folder == "models/checkpoints"
    assert fetched.name == cache_file_name(CIVITAI) + ".safetensors"
    assert build.main_model == fetched.name


def test_a_lora_url_with_a_web_page_extension_gets_a_model_one() -> None:
    url = "https://models.example.com/download.php?id=7"
    params = sd15_params(loras=[{"model": custom(url), "weight": 1}])
    build = validate_submission(body("SD15", params)).build
    [fetched] = build.files
    assert fetched.name.endswith(".php.safetensors")
    assert build.loras == (fetched.name,)


def test_an_input_image_url_without_extension_is_linked_as_png() -> None:
    url = "https://picsum.photos/id/237/512"
    params = sd15_params(input_image=image_url(url), denoise=0.6)
    build = validate_submission(body("SD15", params)).build
    [fetched] = build.files
    assert fetched.folder == "input"
    assert fetched.name == cache_file_name(url) + ".png"


def test_names_that_already_have_a_loadable_extension_are_kept() -> None:
    assert link_name("https://h/x/model.ckpt", "models/checkpoints").endswith(".ckpt")
    assert link_name("https://h/x/face.JPG", "input").endswith(".jpg")
    assert link_name("https://h/x/v1.yaml", "models/configs").endswith(".yaml")
    assert link_name("https://h/x/blob", "models/configs").endswith(".yaml")
