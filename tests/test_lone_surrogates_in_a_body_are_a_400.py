"""A lone UTF-16 surrogate (`"\\ud800"` without its pair) is no character: nothing can encode it
to store the task, answer about it or send it to a node. The body is refused before any of that;
a surrogate pair (how `json.dumps` escapes an emoji) is one character and is taken."""

from __future__ import annotations

import pytest

from tests.support.raw_json import assert_body_error, post_raw

pytestmark = pytest.mark.django_db

CHECKPOINT = b'{"type": "build_in", "name": "v1-5.safetensors"}'


def sd15(extra: bytes) -> bytes:
    params = b'{"checkpoint": ' + CHECKPOINT + b', "prompt": "x"' + extra + b"}"
    return b'{"type": "SD15", "params": ' + params + b"}"


def graph(nodes: bytes) -> bytes:
    return b'{"type": "ComfyUI", "params": {"prompt": {' + nodes + b"}}}"


SAVE = b'"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}}'


@pytest.mark.parametrize(
    "body",
    [
        sd15(b', "\\ud800": 1'),
        sd15(b', "negative_prompt": "a \\udfff b"'),
        graph(b'"1": {"class_type": "Foo", "inputs": {"z": "\\ud800"}}, ' + SAVE),
        graph(b'"\\ud800": {"class_type": "Foo", "inputs": {}}, ' + SAVE),
        graph(b'"1": {"class_type": "Foo", "inputs": {"z": "\\ud83d\\ud83d"}}, ' + SAVE),
        sd15(
            b', "controlnets": [{"model": ' + CHECKPOINT + b', "image": {"type": "url", '
            b'"content": "http://127.0.0.1:1/a.png"}, "preprocessor": "MyPre", '
            b'"preprocessor_params": {"\\ud800": "\\udfff"}}]'
        ),
    ],
    ids=["unknown key", "prompt", "graph input", "node id", "two highs", "preprocessor params"],
)
def test_a_lone_surrogate_anywhere_in_a_submission_is_a_400_naming_the_body(body: bytes) -> None:
    assert_body_error(post_raw("/workflow", body), "surrogate")


def test_a_lone_surrogate_in_a_node_registration_is_a_400() -> None:
    assert_body_error(post_raw("/cluster/nodes", b'{"url": "http://a\\udc00b:8188"}'), "surrogate")


def test_a_surrogate_decoded_from_another_charset_is_a_400() -> None:
    body = b'{"url": "http://+2AA-:8188"}'  # "+2AA-" is U+D800 in UTF-7
    assert_body_error(post_raw("/cluster/nodes", body, charset="utf-7"), "surrogate")


def test_an_escaped_surrogate_pair_is_one_character_and_is_taken() -> None:
    response = post_raw("/workflow", sd15(b', "negative_prompt": "a \\ud83d\\ude00 b"'))
    assert response.status_code == 202, response.content


def test_an_escaped_backslash_before_ud800_is_plain_text_and_is_taken() -> None:
    response = post_raw("/workflow", sd15(b', "negative_prompt": "C:\\\\ud800"'))
    assert response.status_code == 202, response.content
