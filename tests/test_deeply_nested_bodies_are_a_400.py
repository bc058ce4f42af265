"""JSON nested past Python's stack made every JSON endpoint answer 500 (RecursionError in the
parser), and nesting a little less deep got through the parser only to exhaust the stack of
code that walks the data later. Bodies nest at most MAX_JSON_DEPTH levels; deeper is a 400."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfy_router.parsers import MAX_JSON_DEPTH, StrictJSONParser, nested_deeper_than
from tests.support.raw_json import assert_body_error, graph_body_with_input, post_raw

pytestmark = pytest.mark.django_db


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a": ' * depth + inner + b"}" * depth



@pytest.mark.parametrize("path", ["/workflow", "/cluster/nodes", "/cluster/nodes/delete"])
def test_brackets_nested_past_the_stack_are_a_400_on_every_json_endpoint(path: str) -> None:
    assert_body_error(post_raw(path, b"[" * 100_000 + b"]" * 100_000), "nested")


def test_params_nested_5000_deep_are_a_400() -> None:
    body = b'{"type": "SD15", "params": ' + nested(5000) + b"}"
    assert_body_error(post_raw("/workflow", body), "nested")


def test_a_graph_input_nested_within_the_stack_but_past_the_limit_is_a_400() -> None:
    assert_body_error(post_raw("/workflow", graph_body_with_input(nested(500))), "nested")


def test_a_graph_input_nested_deep_but_within_the_limit_is_taken() -> None:
    response = post_raw("/workflow", graph_body_with_input(nested(MAX_JSON_DEPTH - 6)))
    assert response.status_code == 202, response.content


def parse(body: bytes) -> Any:
    return StrictJSONParser().parse(io.BytesIO(body), "application/json", {"encoding": "utf-8"})


def test_the_parser_takes_exactly_max_json_depth_levels() -> None:
    assert parse(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(Exception, match="nested more than"):
        parse(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


# Strings full of what the check must not take for structure: brackets, quotes, backslashes.
tricky_text = st.text(alphabet='[]{}"\\ au', max_size=6)
json_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_the_nesting_check_agrees_with_the_parsed_depth(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    true_depth = depth(value)
    for limit in range(max(true_depth - 2, 0), true_depth + 2):
        assert nested_deeper_than(body, limit) == (true_depth > limit)
