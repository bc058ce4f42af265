"""Posting bodies as raw bytes, in process: json.dumps cannot write some of the texts the
parser must refuse (a lone surrogate escape, 1e400, nesting past Python's stack)."""

from __future__ import annotations

import base64
from typing import Any

from django.test import Client

AUTH = "Basic " + base64.b64encode(b"admin:admin").decode()


def post_raw(path: str, body: bytes, charset: str = "utf-8") -> Any:
    # `generic`, as `post` would re-encode the bytes into `charset`
    return Client(HTTP_AUTHORIZATION=AUTH).generic(
        "POST", path, data=body, content_type=f"application/json; charset={charset}"
    )


def graph_body_with_input(value: bytes) -> bytes:
    """A `ComfyUI` submission whose custom node has one input, `value` as raw JSON."""
    return (
        b'{"type": "ComfyUI", "params": {"prompt": {'
        b'"1": {"class_type": "MyNode", "inputs": {"x": ' + value + b"}}, "
        b'"2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}}'
        b"}}}"
    )


def assert_body_error(response: Any, *words: str) -> str:
    """A 400 in the API's shape, its message under `detail.body`; returns the message."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == {"body": [body["message"]]}
    for word in words:
        assert word in body["message"]
    return body["message"]
