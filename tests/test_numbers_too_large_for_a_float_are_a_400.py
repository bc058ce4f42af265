"""`1e400` is valid JSON syntax, but Python reads it as infinity, which JSON cannot write back:
the task's insert failed (the database checks its JSON) with a 500. Such a number is refused as
the literals `Infinity` and `NaN` are."""

from __future__ import annotations

import pytest

from tests.support.raw_json import assert_body_error, graph_body_with_input, post_raw

pytestmark = pytest.mark.django_db



@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1" + b"0" * 400 + b".0"])
def test_a_number_too_large_for_a_float_is_a_400_naming_the_body(number: bytes) -> None:
    message = assert_body_error(post_raw("/workflow", graph_body_with_input(number)), "Out of range float")
    assert len(message) < 200  # a long number is not repeated whole


@pytest.mark.parametrize("literal", [b"Infinity", b"NaN"])
def test_the_literals_infinity_and_nan_are_still_a_400(literal: bytes) -> None:
    assert_body_error(post_raw("/workflow", graph_body_with_input(literal)), "Out of range float")


def test_the_largest_float_and_tiny_numbers_are_taken() -> None:
    for number in (b"1.7976931348623157e308", b"-1.7976931348623157e308", b"1e-400", b"-0.0"):
        response = post_raw("/workflow", graph_body_with_input(number))
        assert response.status_code == 202, response.content
